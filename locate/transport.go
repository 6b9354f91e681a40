package locate

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// NewTransport returns a transport like http.DefaultTransport (timeouts,
// HTTP/2) that takes nothing from the environment: no proxy
// (HTTP_PROXY, HTTPS_PROXY and NO_PROXY are not read) and, when roots is
// not nil, only roots to verify locate's certificate. With roots nil the
// system's roots are used, which on Linux Go reads from SSL_CERT_FILE and
// SSL_CERT_DIR when they are set: the caller decides whether those can be
// trusted.
func NewTransport(roots *x509.CertPool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	return t
}
