// Package locatetest is a locate service emulator for tests, demos and CI
// smoke tests. It serves /v2/platform/monitoring/<service> the way the real
// locate service does: the same m-lab/access token controller and verifier
// in front, the same answer shape, URL construction and errors, and an
// access token of its own, signed with a key whose public half
// (Server.LocatePublicKey) a local ndt-server can verify it with.
package locatetest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/m-lab/access/controller"
	accesstoken "github.com/m-lab/access/token"
	"github.com/m-lab/go/host"

	"github.com/monitoring-token/monitoring-token/internal/services"
	"github.com/monitoring-token/monitoring-token/locate"
)

// Prefix is the path under which locate serves monitoring requests.
const Prefix = "/v2/platform/monitoring/"

// expected is the claim check real locate applies to monitoring tokens.
var expected = jwt.Expected{Issuer: "monitoring", AnyAudience: jwt.Audience{"locate"}}

// Config says how to run an emulator. At least one verify key is needed.
type Config struct {
	// Addr is the address to listen on, host:port; "127.0.0.1:0" when
	// empty.
	Addr string
	// VerifyKeys are the public JWKs of the monitoring keys whose tokens
	// the emulator accepts, as locate's monitoring verify keys.
	VerifyKeys [][]byte
	// ServiceAddr, when not empty, is a host:port that replaces the host
	// and port of every service URL the emulator hands out, so that a
	// client reaches a server there (a local ndt-server, say). Nothing else
	// changes: the answer's machine and hostname, and locate's access token
	// in the URLs, still name the machine that was asked for.
	ServiceAddr string
	// ClockOffset sets the emulator's clock ahead of this host's (behind
	// when negative): its Date header, the time its token verifier checks
	// expiry against, and the expiry of its own access tokens. An offset of
	// 75s plays a locate whose clock this host is 75 s behind.
	ClockOffset time.Duration
	// Delay is added before every answer, injected ones included, to play
	// a locate that is far away.
	Delay time.Duration
	// AnswerMachine, when not empty, is the machine the answer names in
	// place of the one asked for, to play a locate that answers for
	// another machine. The URLs and locate's token are left as they are.
	AnswerMachine string
	// URLsWithoutToken drops access_token from every service URL of the
	// answer, to play a locate whose URLs a server would refuse.
	URLsWithoutToken bool
}

// Server is a running emulator.
type Server struct {
	// URL is the monitoring prefix to give monitoring-token as -locate-url.
	URL string

	srv         *http.Server
	listener    net.Listener
	signer      jose.Signer
	publicKey   []byte
	serviceAddr string
	clockOffset time.Duration
	delay       time.Duration
	// answer options, see Config
	answerMachine    string
	urlsWithoutToken bool

	mu       sync.Mutex
	requests int
	injected []http.HandlerFunc
}

// Start serves the emulator on addr ("127.0.0.1:0" when empty), accepting
// tokens signed by any of the public JWKs in verifyKeys.
func Start(addr string, verifyKeys ...[]byte) (*Server, error) {
	return Config{Addr: addr, VerifyKeys: verifyKeys}.Start()
}

// Start serves an emulator configured by c.
func (c Config) Start() (*Server, error) {
	serviceAddr, err := checkServiceAddr(c.ServiceAddr)
	if err != nil {
		return nil, err
	}
	h, s, err := newServer(c.VerifyKeys, c.ClockOffset)
	if err != nil {
		return nil, err
	}
	s.serviceAddr, s.delay = serviceAddr, c.Delay
	s.answerMachine, s.urlsWithoutToken = c.AnswerMachine, c.URLsWithoutToken
	addr := c.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.listener, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator listen: %w", err)
	}
	s.URL = "http://" + s.listener.Addr().String() + Prefix
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(s.listener)
	return s, nil
}

func newServer(verifyKeys [][]byte, clockOffset time.Duration) (http.Handler, *Server, error) {
	if len(verifyKeys) == 0 {
		return nil, nil, errors.New("emulator needs at least one public verify key")
	}
	verifier, err := accesstoken.NewVerifier(verifyKeys...)
	if err != nil {
		return nil, nil, fmt.Errorf("emulator verify key: %w", err)
	}
	// The services locate enforces monitoring tokens on, and their URL
	// keys, come from the table in internal/services.
	enforced := controller.Paths{}
	for _, name := range services.Enforced() {
		enforced[Prefix+name] = true
	}
	tc, err := controller.NewTokenController(&offsetVerifier{verifier, clockOffset}, true, expected, enforced)
	if err != nil {
		return nil, nil, fmt.Errorf("emulator token controller: %w", err)
	}
	signer, public, err := newLocateKey()
	if err != nil {
		return nil, nil, err
	}
	s := &Server{signer: signer, publicKey: public, clockOffset: clockOffset}
	mux := http.NewServeMux()
	mux.Handle(Prefix, tc.Limit(http.HandlerFunc(s.monitoring)))
	return s.count(mux), s, nil
}

// offsetVerifier is m-lab/access's verifier, checking tokens against the
// emulator's clock: the token controller asks it with this host's time.
type offsetVerifier struct {
	*accesstoken.Verifier
	offset time.Duration
}

// Verify checks tok as the real verifier does, at the emulator's time.
func (v *offsetVerifier) Verify(tok string, exp jwt.Expected) (*jwt.Claims, error) {
	exp.Time = exp.Time.Add(v.offset)
	return v.Verifier.Verify(tok, exp)
}

// now is the emulator's clock.
func (s *Server) now() time.Time { return time.Now().Add(s.clockOffset) }

// newLocateKey makes the key locate signs its access tokens with: EdDSA,
// with its RFC 7638 thumbprint as kid, which goes in every token's header
// because m-lab/access verifiers (ndt-server's among them) pick the verify
// key by kid. It returns the signer and the public JWK.
func newLocateKey() (jose.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("locate signing key: %w", err)
	}
	key := jose.JSONWebKey{Key: priv, Algorithm: string(jose.EdDSA), Use: "sig"}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, nil, fmt.Errorf("locate signing key: %w", err)
	}
	key.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	public, err := key.Public().MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("locate signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: &key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, nil, fmt.Errorf("locate signing key: %w", err)
	}
	return signer, public, nil
}

// ErrServiceAddr is a Config.ServiceAddr that is not a host and a port.
var ErrServiceAddr = errors.New("service address must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:4443")

// checkServiceAddr checks a Config.ServiceAddr and returns it in the form
// net.JoinHostPort gives; empty stays empty.
func checkServiceAddr(addr string) (string, error) {
	if addr == "" {
		return "", nil
	}
	h, p, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(p); err != nil || perr != nil || n < 1 || n > 65535 || h == "" {
		return "", fmt.Errorf("%w, not %q", ErrServiceAddr, addr)
	}
	return net.JoinHostPort(h, p), nil
}

// LocatePublicKey returns the public JWK of the key the emulator signs its
// access tokens with, for the service under test to verify them (ndt-server's
// -token.verify-key).
func (s *Server) LocatePublicKey() []byte {
	return append([]byte(nil), s.publicKey...)
}

// Close stops the emulator.
func (s *Server) Close() error {
	return s.srv.Close()
}

// Requests returns how many requests reached the emulator.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Inject makes h answer the next request that would reach the emulator,
// instead of the emulator, so that tests can play a failing locate. Injected
// handlers answer in the order given, one request each.
func (s *Server) Inject(h ...http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.injected = append(s.injected, h...)
}

// count counts requests and hands them to an injected handler if one waits,
// after the Delay, with a Date header from the emulator's clock.
func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if s.delay > 0 {
			t := time.NewTimer(s.delay)
			select {
			case <-t.C:
			case <-req.Context().Done():
				t.Stop()
				return
			}
		}
		// net/http sets Date only when the handler has not.
		rw.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
		s.mu.Lock()
		s.requests++
		var h http.Handler = next
		if len(s.injected) > 0 {
			h, s.injected = s.injected[0], s.injected[1:]
		}
		s.mu.Unlock()
		h.ServeHTTP(rw, req)
	})
}

// monitoring answers a request that passed the token controller, as
// m-lab/locate's handler.Monitoring does.
func (s *Server) monitoring(rw http.ResponseWriter, req *http.Request) {
	cl := controller.GetClaim(req.Context())
	if cl == nil {
		// Unenforced paths get here without claims.
		writeAnswer(rw, problem("claim", "Must provide access_token", http.StatusBadRequest))
		return
	}
	name, err := host.Parse(cl.Subject)
	if err != nil {
		writeAnswer(rw, problem("subject", "Subject must be specified", http.StatusBadRequest))
		return
	}
	experiment := path.Base(path.Dir(req.URL.Path))
	service := experiment + "/" + path.Base(req.URL.Path)
	svc, ok := services.Lookup(service)
	if !ok || !svc.Enforced {
		writeAnswer(rw, problem("config", "Unknown service: "+service, http.StatusBadRequest))
		return
	}
	// Locate takes the subject as given: it names the machine in the
	// answer and is the audience of the access token, so a spelling that
	// differs from the server's own name (-token.machine) is refused there.
	machine := cl.Subject
	tok, err := s.accessToken(machine)
	if err != nil {
		writeAnswer(rw, problem("token", "Failed to sign access token", http.StatusInternalServerError))
		return
	}
	// The service's hostname is built from the parsed name: the
	// experiment as service prefix, no instance-group suffix.
	name.Service = experiment
	hostname := name.StringWithService()
	// Parameters given to locate come back on every URL, the first value
	// of each, next to locate's own token.
	params := url.Values{}
	for key, values := range req.URL.Query() {
		if key != locate.AccessTokenParam {
			params.Set(key, values[0])
		}
	}
	if !s.urlsWithoutToken {
		params.Set(locate.AccessTokenParam, tok)
	}
	urls := map[string]string{}
	// The keys of locate's static configuration are URL templates: a
	// template's host is the port that follows the machine's hostname.
	for _, tmpl := range svc.URLKeys {
		u, err := url.Parse(tmpl)
		if err != nil {
			panic(err) // The table's keys are constants.
		}
		u.Host = hostname + u.Host
		if s.serviceAddr != "" {
			u.Host = s.serviceAddr
		}
		u.RawQuery = params.Encode()
		urls[tmpl] = u.String()
	}
	target := locate.Target{Machine: machine, Hostname: hostname, URLs: urls}
	if s.answerMachine != "" {
		target.Machine = s.answerMachine
	}
	writeAnswer(rw, &locate.Answer{AccessToken: tok, Target: &target, Results: []locate.Target{target}})
}

// accessToken signs locate's own token for machine, as locate does: issuer
// "locate", subject "monitoring", audience the machine exactly as it was
// asked for, a minute's validity and a unique ID.
func (s *Server) accessToken(machine string) (string, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	cl := jwt.Claims{
		Issuer:   "locate",
		Subject:  "monitoring",
		Audience: jwt.Audience{machine},
		Expiry:   jwt.NewNumericDate(s.now().Add(time.Minute)),
		ID:       hex.EncodeToString(id),
	}
	return jwt.Signed(s.signer).Claims(cl).Serialize()
}

func problem(typ, title string, status int) *locate.Answer {
	return &locate.Answer{Error: &locate.Error{Type: typ, Title: title, Status: status}}
}

func writeAnswer(rw http.ResponseWriter, a *locate.Answer) {
	status := http.StatusOK
	if a.Error != nil {
		status = a.Error.Status
	}
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	rw.Write(b)
}
