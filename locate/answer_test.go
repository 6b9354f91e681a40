package locate_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/monitoring-token/monitoring-token/locate"
)

// ndt7Answer is the shape of a real locate answer for ndt/ndt7, with
// Results and the legacy Target naming the same machine.
const ndt7Answer = `{
  "access_token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln",
  "target": {
    "machine": "mlab1-lga01.mlab-oti.measurement-lab.org",
    "hostname": "ndt-mlab1-lga01.mlab-oti.measurement-lab.org",
    "urls": {
      "ws:///ndt/v7/download": "ws://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/ndt/v7/download?access_token=tok",
      "wss:///ndt/v7/download": "wss://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/ndt/v7/download?access_token=tok"
    }
  },
  "results": [{
    "machine": "mlab1-lga01.mlab-oti.measurement-lab.org",
    "hostname": "ndt-mlab1-lga01.mlab-oti.measurement-lab.org",
    "urls": {
      "ws:///ndt/v7/download": "ws://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/ndt/v7/download?access_token=tok",
      "wss:///ndt/v7/download": "wss://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/ndt/v7/download?access_token=tok"
    }
  }]
}`

// unenforcedAnswer is real locate's answer for a service on which it does
// not enforce monitoring tokens.
const unenforcedAnswer = `{"error":{"type":"claim","title":"Must provide access_token","status":400},"access_token":""}`

func TestParseAnswerServiceURL(t *testing.T) {
	tests := []struct {
		name string
		body string
		key  string
		want string
	}{
		{
			name: "real answer",
			body: ndt7Answer,
			key:  "wss:///ndt/v7/download",
			want: "wss://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/ndt/v7/download?access_token=tok",
		},
		{
			name: "results only",
			body: `{"results":[{"machine":"m","urls":{"wss:///a":"wss://r/a"}}]}`,
			key:  "wss:///a",
			want: "wss://r/a",
		},
		{
			name: "target only",
			body: `{"target":{"machine":"m","urls":{"wss:///a":"wss://t/a"}}}`,
			key:  "wss:///a",
			want: "wss://t/a",
		},
		{
			name: "results preferred over target",
			body: `{"target":{"machine":"t","urls":{"wss:///a":"wss://t/a"}},"results":[{"machine":"r","urls":{"wss:///a":"wss://r/a"}},{"machine":"r2","urls":{"wss:///a":"wss://r2/a"}}]}`,
			key:  "wss:///a",
			want: "wss://r/a",
		},
		{
			name: "no key, one URL",
			body: `{"results":[{"machine":"m","urls":{"wss://:4443/v0/envelope/access":"wss://w:4443/v0/envelope/access"}}]}`,
			want: "wss://w:4443/v0/envelope/access",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := locate.ParseAnswer(http.StatusOK, "application/json; charset=utf-8", []byte(tt.body))
			if err != nil {
				t.Fatalf("ParseAnswer = %v", err)
			}
			got, err := a.ServiceURL(tt.key)
			if err != nil || got != tt.want {
				t.Errorf("ServiceURL(%q) = %q, %v, want %q", tt.key, got, err, tt.want)
			}
		})
	}
}

func TestServiceURLErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		key     string
		wantMsg []string
	}{
		{
			name:    "missing key",
			body:    ndt7Answer,
			key:     "wss:///ndt/v7/upload",
			wantMsg: []string{`"wss:///ndt/v7/upload"`, `"ws:///ndt/v7/download", "wss:///ndt/v7/download"`},
		},
		{
			name:    "no key, several URLs",
			body:    ndt7Answer,
			wantMsg: []string{"2 URLs", `"ws:///ndt/v7/download", "wss:///ndt/v7/download"`},
		},
		{
			name:    "no key, no URLs",
			body:    `{"results":[{"machine":"m"}]}`,
			wantMsg: []string{"0 URLs", "none"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := locate.ParseAnswer(http.StatusOK, "application/json", []byte(tt.body))
			if err != nil {
				t.Fatalf("ParseAnswer = %v", err)
			}
			u, err := a.ServiceURL(tt.key)
			if !errors.Is(err, locate.ErrURLKey) {
				t.Fatalf("ServiceURL(%q) = %q, %v, want %v", tt.key, u, err, locate.ErrURLKey)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %s", err, want)
				}
			}
		})
	}
}

func TestParseAnswerErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantIs      error // a sentinel, or nil for the typed errors below
		wantProblem bool  // a *locate.Error
		wantStatus  int   // of the *locate.Error or *locate.StatusError
		wantMsg     []string
		wantExcerpt string
	}{
		{
			name:        "unenforced service",
			status:      http.StatusBadRequest,
			contentType: "application/json",
			body:        unenforcedAnswer,
			wantProblem: true,
			wantStatus:  http.StatusBadRequest,
			wantMsg:     []string{"Must provide access_token", "HTTP 400"},
		},
		{
			name:        "problem with detail, status from HTTP",
			status:      http.StatusServiceUnavailable,
			contentType: "application/json",
			body:        `{"error":{"type":"heartbeat","title":"No servers available","detail":"try again later"}}`,
			wantProblem: true,
			wantStatus:  http.StatusServiceUnavailable,
			wantMsg:     []string{"No servers available", "try again later", "HTTP 503"},
		},
		{
			name:   "401 empty body",
			status: http.StatusUnauthorized,
			wantIs: locate.ErrUnauthorized,
		},
		{
			name:   "401 blank body",
			status: http.StatusUnauthorized,
			body:   " \n",
			wantIs: locate.ErrUnauthorized,
		},
		{
			name:        "500 HTML",
			status:      http.StatusInternalServerError,
			contentType: "text/html; charset=UTF-8",
			body:        "<html><body>Server Error</body></html>",
			wantStatus:  http.StatusInternalServerError,
			wantMsg:     []string{"HTTP 500", "text/html; charset=UTF-8", "Server Error"},
			wantExcerpt: "<html><body>Server Error</body></html>",
		},
		{
			name:        "non-printable bytes",
			status:      http.StatusBadGateway,
			contentType: "text/plain",
			body:        "\x1b[31mbad\x00gateway\r\n\xff\u00e9",
			wantStatus:  http.StatusBadGateway,
			wantExcerpt: ".[31mbad.gateway...\u00e9",
		},
		{
			name:       "empty 502",
			status:     http.StatusBadGateway,
			wantStatus: http.StatusBadGateway,
			wantMsg:    []string{"HTTP 502", "empty body", "content type none"},
		},
		{
			name:        "empty 502 that claims to be JSON",
			status:      http.StatusBadGateway,
			contentType: "application/json",
			wantStatus:  http.StatusBadGateway,
			wantMsg:     []string{"HTTP 502", "empty body", "content type application/json"},
		},
		{
			name:        "JSON that is not an answer",
			status:      http.StatusOK,
			contentType: "application/json",
			body:        `["not", "an", "answer"]`,
			wantStatus:  http.StatusOK,
			wantMsg:     []string{"not a locate answer"},
		},
		{
			name:        "valid answer with error status",
			status:      http.StatusInternalServerError,
			contentType: "application/json",
			body:        ndt7Answer,
			wantStatus:  http.StatusInternalServerError,
			wantMsg:     []string{"HTTP 500"},
		},
		{
			name:        "answer without a machine",
			status:      http.StatusOK,
			contentType: "application/json",
			body:        `{"access_token":"","results":[]}`,
			wantIs:      locate.ErrNoTarget,
		},
		{
			name:   "JSON null",
			status: http.StatusOK,
			body:   `null`,
			wantIs: locate.ErrNoTarget,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := locate.ParseAnswer(tt.status, tt.contentType, []byte(tt.body))
			if err == nil || a != nil {
				t.Fatalf("ParseAnswer = %+v, %v, want an error", a, err)
			}
			var problem *locate.Error
			var se *locate.StatusError
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("error = %v, want %v", err, tt.wantIs)
				}
			case tt.wantProblem:
				if !errors.As(err, &problem) || problem.Status != tt.wantStatus {
					t.Errorf("error = %#v, want a *locate.Error with status %d", err, tt.wantStatus)
				}
			default:
				if !errors.As(err, &se) || se.Status != tt.wantStatus || se.ContentType != tt.contentType {
					t.Fatalf("error = %#v, want a *locate.StatusError with status %d, content type %q", err, tt.wantStatus, tt.contentType)
				}
				if tt.wantExcerpt != "" && se.Excerpt != tt.wantExcerpt {
					t.Errorf("Excerpt = %q, want %q", se.Excerpt, tt.wantExcerpt)
				}
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestStatusErrorExcerptIsBounded(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{name: "ASCII", body: strings.Repeat("x", 10000)},
		{name: "two-byte runes", body: strings.Repeat("\u00e9", 10000)},
		{name: "four-byte runes", body: strings.Repeat("\U0001F600", 10000)},
		{name: "control bytes", body: strings.Repeat("\x00\x07", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := locate.ParseAnswer(http.StatusInternalServerError, "text/plain", []byte(tt.body))
			var se *locate.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("ParseAnswer = %v, want a *locate.StatusError", err)
			}
			checkExcerpt(t, se.Excerpt)
			if n := utf8.RuneCountInString(se.Excerpt); n < 30 {
				t.Errorf("Excerpt has %d runes, want the start of the body", n)
			}
		})
	}
}

// maxExcerptRunes bounds a StatusError's excerpt.
const maxExcerptRunes = 120

// checkExcerpt fails unless e is short, valid UTF-8 and printable.
func checkExcerpt(t *testing.T, e string) {
	t.Helper()
	if n := utf8.RuneCountInString(e); n > maxExcerptRunes {
		t.Errorf("Excerpt has %d runes, want at most %d", n, maxExcerptRunes)
	}
	if !utf8.ValidString(e) {
		t.Errorf("Excerpt %q is not valid UTF-8", e)
	}
	for _, r := range e {
		if !unicode.IsPrint(r) {
			t.Errorf("Excerpt %q holds non-printable %U", e, r)
			break
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(http.StatusOK, "application/json", []byte(ndt7Answer))
	f.Add(http.StatusOK, "application/json", []byte(`{"target":{"machine":"m","urls":{"k":"u"}}}`))
	f.Add(http.StatusOK, "application/json", []byte(`{"results":[{}]}`))
	f.Add(http.StatusBadRequest, "application/json", []byte(unenforcedAnswer))
	f.Add(http.StatusOK, "application/json", []byte(`{"error":{"title":"t","status":1e999}}`))
	f.Add(http.StatusOK, "application/json", []byte(`{"error":{"title":"t","status":99999999999999999999}}`))
	f.Add(http.StatusOK, "application/json", []byte(`{"results":null,"target":null}`))
	f.Add(http.StatusUnauthorized, "", []byte{})
	f.Add(http.StatusInternalServerError, "text/html", []byte("<html>\x00\xff\xfe</html>"))
	f.Add(http.StatusOK, "", []byte(`null`))
	f.Add(http.StatusOK, "application/json; charset=", []byte(`{`))
	f.Add(-1, "\x00;;=", []byte("\u00e9\u00e9\u00e9"))
	f.Add(http.StatusOK, "application/json", []byte(`{"results":[{"machine":"m","urls":{"wss:///ndt/v7/download":""}}]}`))
	f.Add(http.StatusOK, "application/json", []byte(`{"results":[{"machine":"m","urls":{"k":"wss://h/\u0000"}}]}`))
	f.Add(http.StatusOK, "application/json", []byte(`{"results":[{"machine":"m","urls":{"k":"/relative","j":"wss:///x"}}]}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		a, err := locate.ParseAnswer(status, contentType, body)
		if err != nil {
			if a != nil {
				t.Fatalf("ParseAnswer returned both %+v and %v", a, err)
			}
			var se *locate.StatusError
			if errors.As(err, &se) {
				checkExcerpt(t, se.Excerpt)
			}
			_ = err.Error()
			return
		}
		if a == nil {
			t.Fatal("ParseAnswer = nil, nil")
		}
		if status != http.StatusOK {
			t.Errorf("ParseAnswer accepted an answer with HTTP %d", status)
		}
		if _, err := a.Machine(); err != nil {
			t.Errorf("accepted answer has no machine: %v", err)
		}
		// Whatever the URLs, ServiceURL and ServiceURLs do not panic, and
		// return only usable URLs.
		for _, key := range []string{"", "wss:///ndt/v7/download"} {
			if u, err := a.ServiceURL(key); err == nil && !usableURL(u) {
				t.Errorf("ServiceURL(%q) = %q, which is not usable", key, u)
			}
		}
		if urls, err := a.ServiceURLs(); err == nil {
			for key, u := range urls {
				if !usableURL(u) {
					t.Errorf("ServiceURLs()[%q] = %q, which is not usable", key, u)
				}
			}
		}
	})
}

// secret stands for locate's token in the service URLs below: no error may
// quote it.
const secret = "eyJhbGciOiJFZERTQSJ9.e30.c2VjcmV0"

// usableURL is the fuzz test's own idea of a usable service URL: absolute
// ws, wss, http or https with a host, no control characters.
func usableURL(raw string) bool {
	if strings.IndexFunc(raw, unicode.IsControl) >= 0 {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && slices.Contains([]string{"ws", "wss", "http", "https"}, u.Scheme) && u.Opaque == "" && u.Hostname() != ""
}

// TestServiceURLChecked: ServiceURL hands out only URLs a probe can use,
// and says why it refuses one without quoting it.
func TestServiceURLChecked(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		wantReason string // "" when the URL is usable
	}{
		{name: "wss with token", url: "wss://ndt-mlab1-lga01.mlab-oti.measurement-lab.org/ndt/v7/download?access_token=" + secret},
		{name: "ws with port", url: "ws://ndt-mlab1-lga01.mlab-oti.measurement-lab.org:80/ndt/v7/upload?access_token=" + secret},
		{name: "https", url: "https://neubot-mlab1-lga01.mlab-oti.measurement-lab.org/negotiate/dash"},
		{name: "http", url: "http://127.0.0.1:8080/x"},
		{name: "IPv6 host", url: "wss://[2001:db8::1]:4443/v0/envelope/access"},
		{name: "upper-case scheme", url: "WSS://host/path"},
		{name: "empty", url: "", wantReason: "empty"},
		{name: "NUL byte", url: "wss://host/path\x00?access_token=" + secret, wantReason: "control character U+0000"},
		{name: "CR LF", url: "wss://host/path?access_token=" + secret + "\r\nX: y", wantReason: "control character U+000D"},
		{name: "DEL", url: "wss://host/\x7f?access_token=" + secret, wantReason: "control character U+007F"},
		{name: "C1 control", url: "wss://host/\u0085?access_token=" + secret, wantReason: "control character U+0085"},
		{name: "relative", url: "/ndt/v7/download?access_token=" + secret, wantReason: "not an absolute URL"},
		{name: "scheme-relative", url: "//host/ndt/v7/download?access_token=" + secret, wantReason: "not an absolute URL"},
		{name: "ftp", url: "ftp://host/file?access_token=" + secret, wantReason: `scheme is "ftp"`},
		{name: "file", url: "file:///etc/passwd", wantReason: `scheme is "file"`},
		{name: "no host", url: "wss:///ndt/v7/download?access_token=" + secret, wantReason: "no host"},
		{name: "port without host", url: "wss://:4443/v0/envelope/access?access_token=" + secret, wantReason: "no host"},
		{name: "opaque", url: "wss:" + secret, wantReason: "no host"},
		{name: "bad port", url: "wss://host:port/?access_token=" + secret, wantReason: "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := answerWith(t, map[string]string{"k": tt.url}).ServiceURL("k")
			if tt.wantReason == "" {
				if err != nil || got != tt.url {
					t.Errorf("ServiceURL of %q = %q, %v", tt.url, got, err)
				}
				return
			}
			if !errors.Is(err, locate.ErrUnusableURL) || !strings.Contains(err.Error(), tt.wantReason) || got != "" {
				t.Fatalf("ServiceURL of %q = %q, %v, want %v saying %q", tt.url, got, err, locate.ErrUnusableURL, tt.wantReason)
			}
			checkMessage(t, err)
		})
	}
}

// checkMessage fails unless err is one printable line that names locate's
// answer as the cause and does not quote the token.
func checkMessage(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, "locate's answer") {
		t.Errorf("error %q does not blame locate's answer", msg)
	}
	if strings.Contains(msg, secret) || strings.Contains(msg, "c2VjcmV0") {
		t.Errorf("error %q quotes the token", msg)
	}
	if strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		t.Errorf("error %q holds non-printable characters", msg)
	}
}

// answerWith returns locate's answer holding urls, as JSON would give them.
func answerWith(t *testing.T, urls map[string]string) *locate.Answer {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"access_token": secret,
		"results":      []any{map[string]any{"machine": "m", "urls": urls}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := locate.ParseAnswer(http.StatusOK, "application/json", body)
	if err != nil {
		t.Fatalf("ParseAnswer = %v", err)
	}
	return a
}

func TestServiceURLUnusable(t *testing.T) {
	const key = "wss:///ndt/v7/download"
	good := "wss://ndt-m/ndt/v7/download?access_token=" + secret
	tests := []struct {
		name    string
		urls    map[string]string
		key     string
		wantKey string // the key the error names
	}{
		{name: "empty under the key", urls: map[string]string{key: "", "ws:///ndt/v7/download": good}, key: key, wantKey: key},
		{name: "NUL under the key", urls: map[string]string{key: "wss://ndt-m/\x00?access_token=" + secret}, key: key, wantKey: key},
		{name: "relative under the key", urls: map[string]string{key: "/ndt/v7/download?access_token=" + secret}, key: key, wantKey: key},
		{name: "only URL, no key given, empty", urls: map[string]string{"wss://:4443/v0/envelope/access": ""}, wantKey: "wss://:4443/v0/envelope/access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := answerWith(t, tt.urls).ServiceURL(tt.key)
			if !errors.Is(err, locate.ErrUnusableURL) || got != "" {
				t.Fatalf("ServiceURL(%q) = %q, %v, want %v", tt.key, got, err, locate.ErrUnusableURL)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.wantKey)) {
				t.Errorf("error %q does not name the key %q", err, tt.wantKey)
			}
			checkMessage(t, err)
		})
	}
}

func TestServiceURLs(t *testing.T) {
	good := map[string]string{
		"ws:///ndt/v7/download":  "ws://ndt-m/ndt/v7/download?access_token=" + secret,
		"ws:///ndt/v7/upload":    "ws://ndt-m/ndt/v7/upload?access_token=" + secret,
		"wss:///ndt/v7/download": "wss://ndt-m/ndt/v7/download?access_token=" + secret,
		"wss:///ndt/v7/upload":   "wss://ndt-m/ndt/v7/upload?access_token=" + secret,
	}
	t.Run("all usable", func(t *testing.T) {
		a := answerWith(t, good)
		got, err := a.ServiceURLs()
		if err != nil || !maps.Equal(got, good) {
			t.Fatalf("ServiceURLs = %v, %v, want %v", got, err, good)
		}
		// The map is the caller's: editing it leaves the answer alone.
		clear(got)
		if again, err := a.ServiceURLs(); err != nil || !maps.Equal(again, good) {
			t.Errorf("after the caller cleared its map, ServiceURLs = %v, %v", again, err)
		}
	})
	t.Run("one unusable", func(t *testing.T) {
		urls := maps.Clone(good)
		urls["wss:///ndt/v7/upload"] = "wss:///ndt/v7/upload?access_token=" + secret
		got, err := answerWith(t, urls).ServiceURLs()
		if !errors.Is(err, locate.ErrUnusableURL) || got != nil {
			t.Fatalf("ServiceURLs = %v, %v, want %v", got, err, locate.ErrUnusableURL)
		}
		if !strings.Contains(err.Error(), `"wss:///ndt/v7/upload"`) {
			t.Errorf("error %q does not name the key", err)
		}
		checkMessage(t, err)
	})
	t.Run("no URLs", func(t *testing.T) {
		got, err := answerWith(t, nil).ServiceURLs()
		if !errors.Is(err, locate.ErrURLKey) || got != nil {
			t.Errorf("ServiceURLs = %v, %v, want %v", got, err, locate.ErrURLKey)
		}
	})
}
