// Package errdefs holds the classes an error can belong to. Every layer wraps
// its errors with one of them; the API maps a class to a status code and the
// CLI prints the message, in one place each.
package errdefs

import (
	"errors"
	"fmt"
)

// The classes. Test with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid argument")
	ErrUnavailable = errors.New("unavailable")
	ErrForbidden   = errors.New("forbidden")
)

// classed is an error with a message of its own and a class for errors.Is.
type classed struct {
	class error
	msg   string
	cause error
}

func (e *classed) Error() string { return e.msg }

func (e *classed) Is(target error) bool { return target == e.class }

func (e *classed) Unwrap() error { return e.cause }

func newf(class error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &classed{class: class, msg: err.Error(), cause: errors.Unwrap(err)}
}

// NotFound reports something that does not exist.
func NotFound(format string, args ...any) error { return newf(ErrNotFound, format, args...) }

// Conflict reports a request that clashes with the current state.
func Conflict(format string, args ...any) error { return newf(ErrConflict, format, args...) }

// Invalid reports bad input.
func Invalid(format string, args ...any) error { return newf(ErrInvalid, format, args...) }

// Unavailable reports something the machine cannot do now or at all.
func Unavailable(format string, args ...any) error { return newf(ErrUnavailable, format, args...) }

// Forbidden reports a request that is not allowed.
func Forbidden(format string, args ...any) error { return newf(ErrForbidden, format, args...) }
