package registry

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// statusError is a registry's answer with an unexpected HTTP status.
type statusError struct {
	status  int
	code    string // first error code of the body, e.g. MANIFEST_UNKNOWN
	message string
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
	if d := e.detail(); d != "" {
		s += ": " + d
	}
	return s
}

// detail is the registry's own words in Docker's style:
// "manifest unknown", "unauthorized: authentication required".
func (e *statusError) detail() string {
	code := strings.ToLower(strings.ReplaceAll(e.code, "_", " "))
	msg := strings.TrimSpace(e.message)
	switch {
	case code == "":
		return msg
	case msg == "" || strings.EqualFold(msg, code):
		return code
	default:
		return code + ": " + msg
	}
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// readStatusError consumes resp's body into a statusError.
func readStatusError(resp *http.Response) *statusError {
	e := &statusError{status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var parsed struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &parsed) == nil && len(parsed.Errors) > 0 {
		e.code, e.message = parsed.Errors[0].Code, parsed.Errors[0].Message
	}
	return e
}

// asStatusError finds a registry status in err, ours or go-containerregistry's
// (from the ping and token handshake).
func asStatusError(err error) (*statusError, bool) {
	var se *statusError
	if errors.As(err, &se) {
		return se, true
	}
	var te *transport.Error
	if errors.As(err, &te) {
		se = &statusError{status: te.StatusCode}
		if len(te.Errors) > 0 {
			se.code, se.message = string(te.Errors[0].Code), te.Errors[0].Message
		}
		return se, true
	}
	return nil, false
}

// op says what was being done, for error wording.
type op struct {
	action string // "pull", "push", "login"
	ref    Reference
	domain string
}

// fail turns any error met while talking to a registry into one classed,
// one-line error a person understands.
func (o op) fail(err error) error {
	if err == nil {
		return nil
	}
	if isContextError(err) || isClassed(err) {
		// Drop net/http's "Put \"URL\": " wrapping of our own errors.
		var ue *url.Error
		if errors.As(err, &ue) && (isClassed(ue.Err) || isContextError(ue.Err)) {
			return ue.Err
		}
		return err
	}
	if se, ok := asStatusError(err); ok {
		return o.status(se)
	}
	return errdefs.Unavailable("registry %s is not reachable: %s", o.domain, netReason(err))
}

func (o op) status(se *statusError) error {
	switch {
	case se.status == http.StatusUnauthorized || se.status == http.StatusForbidden:
		d := se.detail()
		if d == "" {
			d = "unauthorized"
			if se.status == http.StatusForbidden {
				d = "denied"
			}
		}
		if o.action == "login" {
			// Registries answer a wrong password with a generic challenge.
			if se.status == http.StatusUnauthorized && (se.detail() == "" || strings.Contains(d, "authentication required")) {
				d = "unauthorized: incorrect username or password"
			}
			return errdefs.Forbidden("login to %s failed: %s", o.domain, d)
		}
		return errdefs.Forbidden("%s access denied for %s: %s (log in with `%s`)", o.action, o.ref.FamiliarName(), d, loginHint(o.domain))
	case se.status == http.StatusTooManyRequests:
		return errdefs.Unavailable("registry %s: too many requests: %s", o.domain, orStatus(se))
	case se.status >= 500:
		return errdefs.Unavailable("registry %s returned %s", o.domain, se.Error())
	case se.status == http.StatusNotFound:
		return errdefs.NotFound("registry %s: %s", o.domain, se.Error())
	default:
		return errdefs.Invalid("registry %s rejected the request: %s", o.domain, se.Error())
	}
}

func orStatus(se *statusError) string {
	if d := se.detail(); d != "" {
		return d
	}
	return http.StatusText(se.status)
}

func loginHint(domain string) string {
	if domain == dockerHubDomain {
		return "gantry login"
	}
	return "gantry login " + domain
}

// netReason is the short cause of a transport failure: "connection
// refused", "no such host", "i/o timeout", a TLS problem.
func netReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Err
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "TLS certificate not trusted: " + certErr.Err.Error()
	}
	var unknownAuthority x509.UnknownAuthorityError
	if errors.As(err, &unknownAuthority) {
		return "TLS certificate signed by an unknown authority"
	}
	var recordErr tls.RecordHeaderError
	if errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "server speaks plain HTTP (add it to the insecure registries)"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "i/o timeout"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "connection closed by the registry"
	}
	// Last: go-containerregistry's ping tries HTTPS and HTTP together, and
	// the HTTPS failure above says more than our refusal of HTTP.
	var refused *insecureRefused
	if errors.As(err, &refused) {
		return "HTTPS failed and it is not configured as an insecure registry"
	}
	return innermost(err).Error()
}

// innermost unwraps err down to its cause, dropping url.Error's method and
// URL prefix that make messages long.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func isClassed(err error) bool {
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalid, errdefs.ErrUnavailable, errdefs.ErrForbidden} {
		if errors.Is(err, class) {
			return true
		}
	}
	return false
}
