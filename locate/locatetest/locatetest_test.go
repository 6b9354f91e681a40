package locatetest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	accesstoken "github.com/m-lab/access/token"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// machine is the M-Lab machine the tokens in these tests name.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// ndt7Keys are the URL keys of locate's ndt/ndt7 configuration.
var ndt7Keys = []string{"wss:///ndt/v7/download", "wss:///ndt/v7/upload", "ws:///ndt/v7/download", "ws:///ndt/v7/upload"}

// newKey makes a key pair and the signer monitoring-token would load from
// its private half.
func newKey(t *testing.T, alg, kid string) (*token.KeyPair, *token.Signer) {
	t.Helper()
	kp, err := token.GenerateKey(alg, kid, token.MinRSABits)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewSigner(kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	return kp, s
}

// start runs an emulator for the test.
func start(t *testing.T, verifyKeys ...[]byte) *locatetest.Server {
	t.Helper()
	srv, err := locatetest.Start("", verifyKeys...)
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// reply is an HTTP answer, read whole.
type reply struct {
	status      int
	contentType string
	body        []byte
}

func get(t *testing.T, u string) reply {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), body}
}

// ask sends tok to the emulator for service; an empty tok sends none.
func ask(t *testing.T, srv *locatetest.Server, service, tok string, extra url.Values) reply {
	t.Helper()
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if tok != "" {
		q.Set(locate.AccessTokenParam, tok)
	}
	u := srv.URL + service
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return get(t, u)
}

// sign signs a monitoring token for subject that is valid for a minute.
func sign(t *testing.T, s *token.Signer, subject string) string {
	t.Helper()
	tok, err := s.Sign(subject, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signClaims signs arbitrary claims with a private JWK through go-jose, to
// make tokens monitoring-token never makes.
func signClaims(t *testing.T, privateJWK []byte, cl jwt.Claims) string {
	t.Helper()
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(privateJWK); err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: &key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(cl).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// monitoringClaims are the claims of a good monitoring token; tests change
// one of them at a time.
func monitoringClaims() jwt.Claims {
	return jwt.Claims{
		Issuer:   token.Issuer,
		Subject:  machine,
		Audience: jwt.Audience{token.Audience},
		Expiry:   jwt.NewNumericDate(time.Now().Add(time.Minute)),
	}
}

// answer parses a 200 answer, failing the test for anything else.
func answer(t *testing.T, r reply) *locate.Answer {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %q; want 200", r.status, r.body)
	}
	a, err := locate.ParseAnswer(r.status, r.contentType, r.body)
	if err != nil {
		t.Fatalf("ParseAnswer = %v", err)
	}
	return a
}

func TestAcceptsMonitoringTokens(t *testing.T) {
	tests := []struct {
		name string
		alg  string
	}{
		{name: "EdDSA", alg: "EdDSA"},
		{name: "ES256", alg: "ES256"},
		{name: "RS256", alg: "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, signer := newKey(t, tt.alg, "")
			srv := start(t, kp.Public)
			a := answer(t, ask(t, srv, "ndt/ndt7", sign(t, signer, machine), nil))
			m, err := a.Machine()
			if err != nil || m.Machine != machine {
				t.Errorf("answer's machine = %q (%v), want %q", m.Machine, err, machine)
			}
		})
	}
}

func TestRejectsBadTokens(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "monitoring-1")
	// Same kid, different key: locate picks the key by kid, then the
	// signature fails.
	impostor, impostorSigner := newKey(t, "EdDSA", "monitoring-1")
	_, strangerSigner := newKey(t, "EdDSA", "someone-else")
	srv := start(t, kp.Public)

	with := func(change func(*jwt.Claims)) string {
		cl := monitoringClaims()
		change(&cl)
		return signClaims(t, kp.Private, cl)
	}
	inAMinute := jwt.NewNumericDate(time.Now().Add(time.Minute))
	aMinuteAgo := jwt.NewNumericDate(time.Now().Add(-time.Minute))
	expired, err := signer.Sign(machine, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		tok  string
		want int
	}{
		// Controls: the same route to a token, with nothing wrong.
		{name: "monitoring-token's token", tok: sign(t, signer, machine), want: http.StatusOK},
		{name: "go-jose token", tok: with(func(*jwt.Claims) {}), want: http.StatusOK},
		{name: "nbf and iat a minute ago", tok: with(func(cl *jwt.Claims) { cl.NotBefore, cl.IssuedAt = aMinuteAgo, aMinuteAgo }), want: http.StatusOK},

		{name: "no token", tok: "", want: http.StatusUnauthorized},
		{name: "not a JWT", tok: "not-a-token", want: http.StatusUnauthorized},
		{name: "same kid, other key", tok: sign(t, impostorSigner, machine), want: http.StatusUnauthorized},
		{name: "unknown kid", tok: sign(t, strangerSigner, machine), want: http.StatusUnauthorized},
		{name: "wrong audience", tok: with(func(cl *jwt.Claims) { cl.Audience = jwt.Audience{"other"} }), want: http.StatusUnauthorized},
		{name: "no audience", tok: with(func(cl *jwt.Claims) { cl.Audience = nil }), want: http.StatusUnauthorized},
		{name: "wrong issuer", tok: with(func(cl *jwt.Claims) { cl.Issuer = "locate" }), want: http.StatusUnauthorized},
		{name: "expired", tok: expired, want: http.StatusUnauthorized},
		// Locate does not require "exp": m-lab/access checks it only when
		// present.
		{name: "no expiry", tok: with(func(cl *jwt.Claims) { cl.Expiry = nil }), want: http.StatusOK},
		{name: "nbf a minute ahead", tok: with(func(cl *jwt.Claims) { cl.NotBefore = inAMinute }), want: http.StatusUnauthorized},
		{name: "iat a minute ahead", tok: with(func(cl *jwt.Claims) { cl.IssuedAt = inAMinute }), want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ask(t, srv, "ndt/ndt7", tt.tok, nil)
			if r.status != tt.want {
				t.Fatalf("status = %d, body %q; want %d", r.status, r.body, tt.want)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			// Locate's token controller says nothing more than 401.
			if len(r.body) != 0 {
				t.Errorf("401 body = %q, want empty", r.body)
			}
			if _, err := locate.ParseAnswer(r.status, r.contentType, r.body); !errors.Is(err, locate.ErrUnauthorized) {
				t.Errorf("ParseAnswer = %v, want ErrUnauthorized", err)
			}
		})
	}
	// The impostor's public key, once trusted instead, accepts its token:
	// the 401 above came from the key, not from the token's shape.
	other := start(t, impostor.Public)
	if r := ask(t, other, "ndt/ndt7", sign(t, impostorSigner, machine), nil); r.status != http.StatusOK {
		t.Errorf("impostor's token with its own key: status %d, want 200", r.status)
	}
}

func TestProblems(t *testing.T) {
	kp, signer := newKey(t, "ES256", "")
	srv := start(t, kp.Public)
	tests := []struct {
		name    string
		service string
		tok     string
		status  int
		typ     string
		title   string
	}{
		// ndt5 is not among the paths locate enforces tokens on, so the
		// token controller passes the request on without claims.
		{name: "unenforced service with token", service: "ndt/ndt5", tok: sign(t, signer, machine), status: 400, typ: "claim", title: "Must provide access_token"},
		{name: "unenforced service without token", service: "ndt/ndt5", status: 400, typ: "claim", title: "Must provide access_token"},
		{name: "unknown service", service: "no/such", tok: sign(t, signer, machine), status: 400, typ: "claim", title: "Must provide access_token"},
		{name: "subject not a machine", service: "ndt/ndt7", tok: sign(t, signer, "localhost"), status: 400, typ: "subject", title: "Subject must be specified"},
		{name: "subject in another domain", service: "ndt/ndt7", tok: sign(t, signer, "mlab1-lga01.mlab-oti.example.org"), status: 400, typ: "subject", title: "Subject must be specified"},
		{name: "no subject", service: "ndt/ndt7", tok: sign(t, signer, ""), status: 400, typ: "subject", title: "Subject must be specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ask(t, srv, tt.service, tt.tok, nil)
			if r.status != tt.status {
				t.Fatalf("status = %d, body %q; want %d", r.status, r.body, tt.status)
			}
			_, err := locate.ParseAnswer(r.status, r.contentType, r.body)
			var problem *locate.Error
			if !errors.As(err, &problem) {
				t.Fatalf("ParseAnswer = %v, want a *locate.Error", err)
			}
			want := locate.Error{Type: tt.typ, Title: tt.title, Status: tt.status}
			if *problem != want {
				t.Errorf("problem = %+v, want %+v", *problem, want)
			}
			// Locate's MonitoringResult always carries access_token, empty
			// on errors.
			var raw map[string]any
			if err := json.Unmarshal(r.body, &raw); err != nil {
				t.Fatal(err)
			}
			if tok, ok := raw["access_token"]; !ok || tok != "" {
				t.Errorf("access_token = %v (present %v), want \"\"", tok, ok)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	srv := start(t, kp.Public)
	tests := []struct {
		name       string
		service    string
		extra      url.Values
		keys       []string
		hostname   string
		downloadOn string // the host:port of one URL, to check the port
	}{
		{
			name:       "ndt7",
			service:    "ndt/ndt7",
			keys:       ndt7Keys,
			hostname:   "ndt-" + machine,
			downloadOn: "ndt-" + machine,
		},
		{
			name:       "ndt7 with early_exit",
			service:    "ndt/ndt7",
			extra:      url.Values{"early_exit": {"250"}},
			keys:       ndt7Keys,
			hostname:   "ndt-" + machine,
			downloadOn: "ndt-" + machine,
		},
		{
			name:       "wehe with two parameters",
			service:    "wehe/replay",
			extra:      url.Values{"early_exit": {"250"}, "client_name": {"probe"}},
			keys:       []string{"wss://:4443/v0/envelope/access"},
			hostname:   "wehe-" + machine,
			downloadOn: "wehe-" + machine + ":4443",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqTok := sign(t, signer, machine)
			a := answer(t, ask(t, srv, tt.service, reqTok, tt.extra))

			if a.Target == nil || len(a.Results) != 1 {
				t.Fatalf("answer has target %v and %d results, want both filled", a.Target, len(a.Results))
			}
			if !reflect.DeepEqual(*a.Target, a.Results[0]) {
				t.Errorf("target %+v differs from results[0] %+v", *a.Target, a.Results[0])
			}
			got := a.Results[0]
			if got.Machine != machine || got.Hostname != tt.hostname {
				t.Errorf("machine %q, hostname %q; want %q, %q", got.Machine, got.Hostname, machine, tt.hostname)
			}

			var keys []string
			for k := range got.URLs {
				keys = append(keys, k)
			}
			if want := slices.Sorted(slices.Values(tt.keys)); !slices.Equal(slices.Sorted(slices.Values(keys)), want) {
				t.Errorf("URL keys %q, want %q", keys, want)
			}

			checkLocateToken(t, srv, a.AccessToken, reqTok, machine)
			hosts := map[string]bool{}
			for key, raw := range got.URLs {
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				tmpl, _ := url.Parse(key)
				if u.Scheme != tmpl.Scheme || u.Path != tmpl.Path || u.Host != tt.hostname+tmpl.Host {
					t.Errorf("%s = %s, want %s://%s%s%s", key, raw, tmpl.Scheme, tt.hostname, tmpl.Host, tmpl.Path)
				}
				hosts[u.Host] = true
				q := u.Query()
				if q.Get(locate.AccessTokenParam) != a.AccessToken {
					t.Errorf("%s carries access_token %q, want the answer's own %q", key, q.Get(locate.AccessTokenParam), a.AccessToken)
				}
				q.Del(locate.AccessTokenParam)
				want := tt.extra
				if want == nil {
					want = url.Values{}
				}
				if !reflect.DeepEqual(q, want) {
					t.Errorf("%s has parameters %v besides access_token, want %v", key, q, want)
				}
			}
			if !hosts[tt.downloadOn] {
				t.Errorf("no URL on %s; hosts %v", tt.downloadOn, hosts)
			}
		})
	}
}

// checkLocateToken checks the token locate hands out: its own, for the
// machine exactly as asked for, and not the one it was sent. It verifies
// the token as ndt-server does, with m-lab/access's verifier and the
// emulator's public locate key.
func checkLocateToken(t *testing.T, srv *locatetest.Server, tok, reqTok, aud string) {
	t.Helper()
	if tok == "" || tok == reqTok {
		t.Fatalf("answer's access_token %q: want locate's own token", tok)
	}
	verifier, err := accesstoken.NewVerifier(srv.LocatePublicKey())
	if err != nil {
		t.Fatalf("LocatePublicKey() is not a verify key: %v", err)
	}
	cl, err := verifier.Verify(tok, jwt.Expected{Issuer: "locate", AnyAudience: jwt.Audience{aud}, Time: time.Now()})
	if err != nil {
		t.Fatalf("locate's token does not verify with LocatePublicKey() for audience %q: %v", aud, err)
	}
	if cl.Subject != "monitoring" || len(cl.Audience) != 1 || cl.Audience[0] != aud {
		t.Errorf("locate's token claims sub %q aud %q; want monitoring, exactly [%s]", cl.Subject, cl.Audience, aud)
	}
	if cl.ID == "" {
		t.Errorf("locate's token has no jti; locate gives every token a unique ID")
	}
	if cl.Expiry == nil || !cl.Expiry.Time().After(time.Now()) {
		t.Errorf("locate's token expiry %v, want in the future", cl.Expiry)
	}
}

// TestMachineAsGiven checks that the emulator, like locate, takes the
// machine name as the monitoring token gives it: verbatim as the access
// token's audience and the answer's machine, parsed only for the hostname.
func TestMachineAsGiven(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	srv := start(t, kp.Public)
	tests := []struct {
		name     string
		subject  string
		hostname string
	}{
		{name: "bare v2 name", subject: machine, hostname: "ndt-" + machine},
		{name: "service prefix", subject: "ndt-" + machine, hostname: "ndt-" + machine},
		{name: "other service prefix", subject: "wehe-" + machine, hostname: "ndt-" + machine},
		{name: "instance-group suffix", subject: machine + "-d9h6", hostname: "ndt-" + machine},
		{name: "v1 name", subject: "mlab1.lga01.measurement-lab.org", hostname: "ndt-mlab1.lga01.measurement-lab.org"},
		{name: "v1 name with dash", subject: "mlab1-lga01.measurement-lab.org", hostname: "ndt-mlab1.lga01.measurement-lab.org"},
		{name: "v3 name", subject: "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org", hostname: "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqTok := sign(t, signer, tt.subject)
			a := answer(t, ask(t, srv, "ndt/ndt7", reqTok, nil))
			got, err := a.Machine()
			if err != nil {
				t.Fatal(err)
			}
			if got.Machine != tt.subject || got.Hostname != tt.hostname {
				t.Errorf("machine %q, hostname %q; want %q, %q", got.Machine, got.Hostname, tt.subject, tt.hostname)
			}
			checkLocateToken(t, srv, a.AccessToken, reqTok, tt.subject)
		})
	}
}

// TestParameters checks that the parameters sent to locate come back on
// every URL as locate returns them: the first value of each.
func TestParameters(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	srv := start(t, kp.Public)
	extra := url.Values{"early_exit": {"250", "500"}, "client_name": {"probe"}}
	a := answer(t, ask(t, srv, "ndt/ndt7", sign(t, signer, machine), extra))
	want := url.Values{"early_exit": {"250"}, "client_name": {"probe"}, locate.AccessTokenParam: {a.AccessToken}}
	for key, raw := range a.Results[0].URLs {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got := u.Query(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s has parameters %v, want %v", key, got, want)
		}
	}
}

func TestServiceAddr(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	tests := []struct {
		name string
		addr string
		want string // host:port of every URL
	}{
		{name: "IPv4 loopback", addr: "127.0.0.1:4443", want: "127.0.0.1:4443"},
		{name: "name", addr: "localhost:8443", want: "localhost:8443"},
		{name: "IPv6 loopback", addr: "[::1]:4443", want: "[::1]:4443"},
		{name: "lowest port", addr: "127.0.0.1:1", want: "127.0.0.1:1"},
		{name: "highest port", addr: "127.0.0.1:65535", want: "127.0.0.1:65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := locatetest.Config{VerifyKeys: [][]byte{kp.Public}, ServiceAddr: tt.addr}.Start()
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			t.Cleanup(func() { srv.Close() })
			for _, service := range []string{"ndt/ndt7", "wehe/replay"} {
				reqTok := sign(t, signer, machine)
				a := answer(t, ask(t, srv, service, reqTok, url.Values{"early_exit": {"250"}}))
				got := a.Results[0]
				// The answer still names the machine; only the URLs move.
				experiment := strings.Split(service, "/")[0]
				if got.Machine != machine || got.Hostname != experiment+"-"+machine {
					t.Errorf("%s: machine %q, hostname %q; want %q, %q", service, got.Machine, got.Hostname, machine, experiment+"-"+machine)
				}
				checkLocateToken(t, srv, a.AccessToken, reqTok, machine)
				for key, raw := range got.URLs {
					u, err := url.Parse(raw)
					if err != nil {
						t.Fatalf("%s: %v", key, err)
					}
					tmpl, _ := url.Parse(key)
					if u.Host != tt.want || u.Scheme != tmpl.Scheme || u.Path != tmpl.Path {
						t.Errorf("%s = %s, want %s://%s%s", key, raw, tmpl.Scheme, tt.want, tmpl.Path)
					}
					if q := u.Query(); q.Get(locate.AccessTokenParam) != a.AccessToken || q.Get("early_exit") != "250" {
						t.Errorf("%s has parameters %v, want locate's token and early_exit=250", key, q)
					}
				}
			}
		})
	}
}

func TestServiceAddrRefused(t *testing.T) {
	kp, _ := newKey(t, "EdDSA", "")
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:", ":4443", "127.0.0.1:https", "127.0.0.1:0", "127.0.0.1:65536", "wss://127.0.0.1:4443"} {
		t.Run(addr, func(t *testing.T) {
			srv, err := locatetest.Config{VerifyKeys: [][]byte{kp.Public}, ServiceAddr: addr}.Start()
			if err == nil {
				srv.Close()
				t.Fatalf("Start with service address %q succeeded, want an error", addr)
			}
			if !errors.Is(err, locatetest.ErrServiceAddr) || !strings.Contains(err.Error(), addr) {
				t.Errorf("Start = %v, want ErrServiceAddr naming %q", err, addr)
			}
		})
	}
}

// TestLocatePublicKey checks that each emulator has a locate key of its
// own, so that a server trusting one emulator refuses another's tokens.
func TestLocatePublicKey(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	one, other := start(t, kp.Public), start(t, kp.Public)
	pub := one.LocatePublicKey()
	if _, err := accesstoken.LoadJSONWebKey(pub, true); err != nil {
		t.Fatalf("LocatePublicKey() = %s: not a public JWK: %v", pub, err)
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(pub); err != nil || key.KeyID == "" || key.Algorithm != "EdDSA" {
		t.Errorf("LocatePublicKey() = %s: want an EdDSA key with a kid", pub)
	}
	pub[0] = 'x' // The caller's copy is its own.
	if one.LocatePublicKey()[0] == 'x' {
		t.Errorf("LocatePublicKey() hands out the emulator's own slice")
	}
	verifier, err := accesstoken.NewVerifier(one.LocatePublicKey())
	if err != nil {
		t.Fatal(err)
	}
	a := answer(t, ask(t, other, "ndt/ndt7", sign(t, signer, machine), nil))
	if _, err := verifier.Verify(a.AccessToken, jwt.Expected{Issuer: "locate", AnyAudience: jwt.Audience{machine}, Time: time.Now()}); err == nil {
		t.Errorf("one emulator's key verifies another emulator's token")
	}
}

func TestInject(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	srv := start(t, kp.Public)
	srv.Inject(
		func(rw http.ResponseWriter, _ *http.Request) {
			http.Error(rw, "overloaded", http.StatusServiceUnavailable)
		},
		func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Content-Type", "text/html")
			fmt.Fprint(rw, "<html>captive portal</html>")
		},
	)
	tests := []struct {
		name   string
		tok    string
		status int
		body   string // a fragment
	}{
		// Injected handlers come before the token controller.
		{name: "first injected", tok: "", status: http.StatusServiceUnavailable, body: "overloaded"},
		{name: "second injected", tok: "", status: http.StatusOK, body: "captive portal"},
		{name: "normal service, no token", tok: "", status: http.StatusUnauthorized},
		{name: "normal service", tok: sign(t, signer, machine), status: http.StatusOK, body: `"machine": "` + machine + `"`},
	}
	for i, tt := range tests {
		r := ask(t, srv, "ndt/ndt7", tt.tok, nil)
		if r.status != tt.status || !strings.Contains(string(r.body), tt.body) {
			t.Errorf("request %d (%s): status %d, body %q; want %d with %q", i+1, tt.name, r.status, r.body, tt.status, tt.body)
		}
	}
	if got := srv.Requests(); got != len(tests) {
		t.Errorf("Requests() = %d, want %d", got, len(tests))
	}
}

func TestRequests(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	srv := start(t, kp.Public)
	if got := srv.Requests(); got != 0 {
		t.Fatalf("Requests() before any = %d, want 0", got)
	}
	base := strings.TrimSuffix(srv.URL, locatetest.Prefix)
	// Every request counts, whatever the answer.
	tests := []struct {
		name   string
		url    string
		status int
	}{
		{name: "answered", url: srv.URL + "ndt/ndt7?access_token=" + sign(t, signer, machine), status: http.StatusOK},
		{name: "rejected", url: srv.URL + "ndt/ndt7", status: http.StatusUnauthorized},
		{name: "problem", url: srv.URL + "ndt/ndt5", status: http.StatusBadRequest},
		{name: "not found", url: base + "/v2/nearest/ndt/ndt7", status: http.StatusNotFound},
	}
	for i, tt := range tests {
		if r := get(t, tt.url); r.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, r.status, tt.status)
		}
		if got := srv.Requests(); got != i+1 {
			t.Errorf("after %s: Requests() = %d, want %d", tt.name, got, i+1)
		}
	}
}

func TestStart(t *testing.T) {
	kp, _ := newKey(t, "EdDSA", "k1")
	same, _ := newKey(t, "ES256", "k1")
	tests := []struct {
		name    string
		addr    string
		keys    [][]byte
		wantErr string
	}{
		{name: "one key", keys: [][]byte{kp.Public}},
		{name: "no key", wantErr: "at least one public verify key"},
		{name: "private key", keys: [][]byte{kp.Private}, wantErr: "invalid JSON web key"},
		{name: "not JSON", keys: [][]byte{[]byte("nope")}, wantErr: "verify key"},
		{name: "duplicate kid", keys: [][]byte{kp.Public, same.Public}, wantErr: "Duplicate KeyID"},
		{name: "bad address", addr: "127.0.0.1:99999", keys: [][]byte{kp.Public}, wantErr: "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := locatetest.Start(tt.addr, tt.keys...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Start = %v, want an error containing %q", err, tt.wantErr)
				}
				if srv != nil {
					srv.Close()
				}
				return
			}
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			u, err := url.Parse(srv.URL)
			if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "0" || u.Path != locatetest.Prefix {
				t.Errorf("URL = %q, want http://127.0.0.1:PORT%s", srv.URL, locatetest.Prefix)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if _, err := http.Get(srv.URL); err == nil {
				t.Errorf("emulator still answers after Close")
			}
		})
	}
}
