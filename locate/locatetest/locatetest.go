// Package locatetest is a locate service emulator for tests, demos and CI
// smoke tests. It serves /v2/platform/monitoring/<service> the way the real
// locate service does: the same m-lab/access token controller and verifier
// in front, the same answer shape, URL construction and errors.
package locatetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/m-lab/access/controller"
	accesstoken "github.com/m-lab/access/token"
	"github.com/m-lab/go/host"

	"github.com/monitoring-token/monitoring-token/locate"
)

// Prefix is the path under which locate serves monitoring requests.
const Prefix = "/v2/platform/monitoring/"

// Services maps each service locate enforces monitoring tokens on to the URL
// templates of its static configuration (m-lab/locate static.Configs). A
// template's host is the port that follows the machine's hostname.
var Services = map[string][]string{
	"ndt/ndt7": {
		"ws:///ndt/v7/upload",
		"ws:///ndt/v7/download",
		"wss:///ndt/v7/upload",
		"wss:///ndt/v7/download",
	},
	"wehe/replay": {
		"wss://:4443/v0/envelope/access",
	},
}

// Expected is the claim check real locate applies to monitoring tokens.
var Expected = jwt.Expected{Issuer: "monitoring", AnyAudience: jwt.Audience{"locate"}}

// Server is a running emulator.
type Server struct {
	// URL is the monitoring prefix to give monitoring-token as -locate-url.
	URL string

	srv      *http.Server
	listener net.Listener
	signer   jose.Signer

	mu       sync.Mutex
	requests int
	injected []http.HandlerFunc
}

// Start serves the emulator on addr ("127.0.0.1:0" when empty), accepting
// tokens signed by any of the public JWKs in verifyKeys.
func Start(addr string, verifyKeys ...[]byte) (*Server, error) {
	h, s, err := newServer(verifyKeys)
	if err != nil {
		return nil, err
	}
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

func newServer(verifyKeys [][]byte) (http.Handler, *Server, error) {
	if len(verifyKeys) == 0 {
		return nil, nil, errors.New("emulator needs at least one public verify key")
	}
	verifier, err := accesstoken.NewVerifier(verifyKeys...)
	if err != nil {
		return nil, nil, fmt.Errorf("emulator verify key: %w", err)
	}
	enforced := controller.Paths{}
	for svc := range Services {
		enforced[Prefix+svc] = true
	}
	tc, err := controller.NewTokenController(verifier, true, Expected, enforced)
	if err != nil {
		return nil, nil, fmt.Errorf("emulator token controller: %w", err)
	}
	// Locate signs the tokens it hands out with a key of its own.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, nil)
	if err != nil {
		return nil, nil, err
	}
	s := &Server{signer: signer}
	mux := http.NewServeMux()
	mux.Handle(Prefix, tc.Limit(http.HandlerFunc(s.monitoring)))
	return s.count(mux), s, nil
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

// count counts requests and hands them to an injected handler if one waits.
func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
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

// monitoring answers a request that passed the token controller.
func (s *Server) monitoring(rw http.ResponseWriter, req *http.Request) {
	cl := controller.GetClaim(req.Context())
	if cl == nil {
		// Unenforced paths get here without claims.
		writeAnswer(rw, problem("claim", "Must provide access_token", http.StatusBadRequest))
		return
	}
	if _, err := host.Parse(cl.Subject); err != nil {
		writeAnswer(rw, problem("subject", "Subject must be specified", http.StatusBadRequest))
		return
	}
	experiment := path.Base(path.Dir(req.URL.Path))
	service := experiment + "/" + path.Base(req.URL.Path)
	templates, ok := Services[service]
	if !ok {
		writeAnswer(rw, problem("config", "Unknown service: "+service, http.StatusBadRequest))
		return
	}
	machine := cl.Subject
	tok, err := s.accessToken(machine)
	if err != nil {
		writeAnswer(rw, problem("token", "Failed to sign access token", http.StatusInternalServerError))
		return
	}
	// Parameters given to locate come back on every URL.
	params := req.URL.Query()
	params.Del(locate.AccessTokenParam)
	params.Set(locate.AccessTokenParam, tok)
	hostname := experiment + "-" + machine
	urls := map[string]string{}
	for _, tmpl := range templates {
		u, err := url.Parse(tmpl)
		if err != nil {
			panic(err) // The templates above are constants.
		}
		u.Host = hostname + u.Host
		u.RawQuery = params.Encode()
		urls[tmpl] = u.String()
	}
	target := locate.Target{Machine: machine, Hostname: hostname, URLs: urls}
	writeAnswer(rw, &locate.Answer{AccessToken: tok, Target: &target, Results: []locate.Target{target}})
}

// accessToken signs locate's own token for machine, as locate does: issuer
// "locate", subject "monitoring", audience the machine's v2 and v1 names.
func (s *Server) accessToken(machine string) (string, error) {
	name, err := host.Parse(machine)
	if err != nil {
		return "", err
	}
	aud := jwt.Audience{name.String()}
	name.Version = "v1"
	aud = append(aud, name.String())
	cl := jwt.Claims{
		Issuer:   "locate",
		Subject:  "monitoring",
		Audience: aud,
		Expiry:   jwt.NewNumericDate(time.Now().Add(time.Minute)),
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
