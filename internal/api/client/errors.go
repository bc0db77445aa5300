package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/moby/moby/api/types/common"
)

// connectionError is a failure to reach the daemon.
type connectionError struct{ error }

func (e connectionError) Unwrap() error { return e.error }

// IsErrConnectionFailed reports whether err is a failure to reach the
// daemon (as opposed to an error the daemon answered).
func IsErrConnectionFailed(err error) bool {
	return errors.As(err, new(connectionError))
}

func (c *Client) cannotConnect() error {
	return connectionError{fmt.Errorf("Cannot connect to the Docker daemon at %s. Is the docker daemon running?", c.host)}
}

// connectError words a failed request as moby's client does. A refused
// or missing socket and a permission problem do not keep the cause: the
// caller sees only that the daemon could not be reached.
func (c *Client) connectError(err error) error {
	if strings.Contains(err.Error(), "malformed HTTP response") {
		return connectionError{fmt.Errorf("%w.\n* Are you trying to connect to a TLS-enabled daemon without TLS?", err)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, os.ErrPermission) {
		return connectionError{fmt.Errorf("permission denied while trying to connect to the docker API at %v", c.host)}
	}
	if errors.Is(err, os.ErrNotExist) {
		return connectionError{fmt.Errorf("failed to connect to the docker API at %v; check if the path is correct and if the daemon is running: %w", c.host, errors.Unwrap(err))}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return connectionError{fmt.Errorf("failed to connect to the docker API at %v: %w", c.host, dnsErr)}
	}
	var nErr net.Error
	if errors.As(err, &nErr) {
		if nErr.Timeout() || strings.Contains(nErr.Error(), "connection refused") || strings.Contains(nErr.Error(), "dial unix") {
			return c.cannotConnect()
		}
	}
	return connectionError{fmt.Errorf("error during connect: %w", err)}
}

// statusError is an error status from the daemon: its text is the
// daemon's message after "Error response from daemon: "; errors.Is
// matches the containerd/errdefs class of the status (ErrNotFound for
// 404, ErrConflict for 409, ...).
type statusError struct {
	err    error
	class  error
	Status int
}

func (e *statusError) Error() string        { return e.err.Error() }
func (e *statusError) Unwrap() error        { return e.err }
func (e *statusError) Is(target error) bool { return errors.Is(e.class, target) }

// StatusCode is the HTTP status of an error the daemon answered, 0 for
// other errors.
func StatusCode(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// responseError is nil for a success status, else the daemon's error.
func responseError(resp *http.Response) error {
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return nil
	}
	err := responseMessage(resp)
	return &statusError{err: err, class: errhttp.ToNative(resp.StatusCode), Status: resp.StatusCode}
}

// responseMessage reads the error's body: {"message": ...} or text.
func responseMessage(resp *http.Response) error {
	status := resp.Status
	if status == "" {
		status = http.StatusText(resp.StatusCode)
	}
	var target, method string
	if resp.Request != nil {
		target, method = resp.Request.URL.String(), resp.Request.Method
	}
	const maxBody = 1 << 20
	var body []byte
	if resp.Body != nil && method != http.MethodHead {
		lr := &io.LimitedReader{R: resp.Body, N: maxBody}
		var err error
		if body, err = io.ReadAll(lr); err != nil {
			return err
		}
		if lr.N == 0 {
			return fmt.Errorf("request returned %s with a message (> %d bytes) for API route and version %s, check if the server supports the requested API version", status, maxBody, target)
		}
	}
	if len(body) == 0 {
		return fmt.Errorf("request returned %s for API route and version %s, check if the server supports the requested API version", status, target)
	}
	var daemonErr error
	if resp.Header.Get("Content-Type") == "application/json" {
		var e common.ErrorResponse
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("error reading JSON: %w", err)
		}
		if e.Message == "" {
			daemonErr = fmt.Errorf("API returned a %d (%s) but provided no error-message", resp.StatusCode, http.StatusText(resp.StatusCode))
		} else {
			daemonErr = errors.New(strings.TrimSpace(e.Message))
		}
	} else {
		daemonErr = errors.New(strings.TrimSpace(string(body)))
	}
	return fmt.Errorf("Error response from daemon: %w", daemonErr)
}

// emptyIDError is a call naming no object.
type emptyIDError string

func (e emptyIDError) Error() string { return "invalid " + string(e) + " name or ID: value is empty" }

func (e emptyIDError) Is(target error) bool { return target == cerrdefs.ErrInvalidArgument }

// trimID checks that id names something.
func trimID(kind, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", emptyIDError(kind)
	}
	return id, nil
}

// notFoundError is an object not asked for by name: "Error: No such
// image: ".
type notFoundError string

func (e notFoundError) Error() string { return string(e) }

func (e notFoundError) Is(target error) bool { return target == cerrdefs.ErrNotFound }
