package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// listen opens one -H address: unix://path or tcp://host:port. TCP on a
// non-loopback address needs TLS with client verification, as dockerd
// insists since 27.
func listen(addr string, t TLSConfig) (net.Listener, error) {
	proto, rest, ok := strings.Cut(addr, "://")
	if !ok {
		if strings.HasPrefix(addr, "/") {
			proto, rest = "unix", addr
		} else {
			return nil, errdefs.Invalid("invalid host %q: use unix:///path or tcp://127.0.0.1:PORT", addr)
		}
	}
	switch proto {
	case "unix":
		if err := os.MkdirAll(filepath.Dir(rest), 0o711); err != nil {
			return nil, err
		}
		if c, err := net.Dial("unix", rest); err == nil {
			c.Close()
			return nil, errdefs.Conflict("another daemon is already serving %s: stop it first, or give this one another socket with -H unix:///path", rest)
		}
		os.Remove(rest)
		l, err := net.Listen("unix", rest)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(rest, 0o660); err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	case "tcp":
		u, err := url.Parse("tcp://" + rest)
		if err != nil {
			return nil, errdefs.Invalid("invalid host %q: %v", addr, err)
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
		if !loopback && !(t.Verify && t.CACert != "" && t.Cert != "" && t.Key != "") {
			return nil, errdefs.Invalid("listening on %s without TLS is refused: a non-loopback TCP address needs --tlsverify with --tlscacert, --tlscert and --tlskey", addr)
		}
		l, err := net.Listen("tcp", u.Host)
		if err != nil {
			return nil, err
		}
		if t.Cert == "" {
			return l, nil
		}
		cfg, err := tlsConfig(t)
		if err != nil {
			l.Close()
			return nil, err
		}
		return tls.NewListener(l, cfg), nil
	}
	return nil, errdefs.Invalid("invalid host %q: unsupported protocol %s", addr, proto)
}

func tlsConfig(t TLSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, errdefs.Invalid("loading the TLS certificate: %v", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.CACert != "" {
		pem, err := os.ReadFile(t.CACert)
		if err != nil {
			return nil, errdefs.Invalid("reading the CA certificate: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errdefs.Invalid("no certificate found in %s", t.CACert)
		}
		cfg.ClientCAs = pool
		if t.Verify {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}
