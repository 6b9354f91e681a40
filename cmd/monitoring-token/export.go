package main

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/monitoring-token/monitoring-token/locate"
)

// The variables the command gets from locate's answer: -export,
// -export-all, -env-name and -token-env-name.

// compactJWT reports whether tok looks like a JWS in compact form: three
// base64url parts, the first two not empty.
func compactJWT(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, r := range tok {
		if !(r == '.' || r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// exports picks the URLs the command gets from locate's answer: -export's,
// -export-all's, or the one of -service-url-key-name under -env-name (or
// the service's default names). A -token-env-name that -export-all's
// derived names take is a usageError: it is known only once locate has
// answered.
func exports(cfg *config, answer *locate.Answer) ([]variable, error) {
	switch {
	case len(cfg.exports) > 0:
		var vars []variable
		for _, e := range cfg.exports {
			u, err := answer.ServiceURL(e.key)
			if err != nil {
				return nil, fmt.Errorf("-export %s=%s: %w", e.name, e.key, err)
			}
			vars = append(vars, variable{e.name, u})
		}
		return vars, nil
	case cfg.exportAll != "":
		urls, err := answer.ServiceURLs()
		if err != nil {
			return nil, err
		}
		keys := slices.Sorted(maps.Keys(urls))
		var vars []variable
		byName := map[string]string{}
		for _, k := range keys {
			name, ok := derivedName(cfg.exportAll, k)
			if !ok {
				return nil, fmt.Errorf("-export-all: locate's answer has a key %q from which no variable name can be made", k)
			}
			if other, dup := byName[name]; dup {
				return nil, fmt.Errorf("-export-all: locate's keys %q and %q both make the name %s; use -export for each", other, k, name)
			}
			if name == cfg.tokenEnvName {
				return nil, usagef("%s %s is also the name -export-all makes for locate's key %q; choose another name", cfg.flags.Origin("token-env-name"), name, k)
			}
			byName[name] = k
			vars = append(vars, variable{name, urls[k]})
		}
		return vars, nil
	}
	u, err := answer.ServiceURL(cfg.urlKey)
	if err != nil {
		return nil, err
	}
	vars := make([]variable, len(cfg.envNames))
	for i, name := range cfg.envNames {
		vars[i] = variable{name, u}
	}
	return vars, nil
}

// checkAnswer refuses an answer a probe must not run with: one that names
// another machine than the one asked for, whose token would test (and
// judge) the wrong server, or a URL the command gets without an
// access_token, which the server refuses and which would count against
// it. vars are the variables made from the answer.
func checkAnswer(cfg *config, answer *locate.Answer, vars []variable) error {
	t, err := answer.Machine()
	if err != nil {
		return err
	}
	if got := strings.TrimSuffix(t.Machine, "."); !strings.EqualFold(got, cfg.machine) {
		return fmt.Errorf("locate's answer is for machine %q, not %s that was asked for; nothing was run: check -locate-url", t.Machine, cfg.machine)
	}
	for _, v := range vars {
		u, err := url.Parse(v.value)
		if err != nil || u.Query().Get(locate.AccessTokenParam) == "" {
			return fmt.Errorf("%w: the URL for %s carries no %s, so the server would refuse it; nothing was run: check -locate-url", locate.ErrUnusableURL, v.name, locate.AccessTokenParam)
		}
	}
	return nil
}

// derivedName makes -export-all's variable name for a URL key: the prefix,
// an underscore, then the key's letters and digits in upper case, each run
// of other characters becoming one underscore: wss:///ndt/v7/upload gives
// PREFIX_WSS_NDT_V7_UPLOAD. It reports false when the key has no letter or
// digit.
func derivedName(prefix, key string) (string, bool) {
	var b strings.Builder
	b.WriteString(prefix)
	gap := true // before the first letter or digit, or after other characters
	empty := true
	for _, r := range key {
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			gap = true
			continue
		}
		if gap {
			b.WriteByte('_')
			gap = false
		}
		b.WriteRune(r)
		empty = false
	}
	return b.String(), !empty
}
