package volume

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// restrictedNameChars is how Docker states its rule in messages.
const restrictedNameChars = "[a-zA-Z0-9][a-zA-Z0-9_.-]"

// validateName is the local driver's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+,
// so a name never leaves the volumes directory nor names a staged one.
// Checked by hand: a package-level regexp would cost every start of the
// binary (it is also each container's init).
func validateName(name string) error {
	if len(name) == 1 {
		return errdefs.Invalid("volume name is too short, names should be at least two alphanumeric characters")
	}
	ok := name != ""
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '_' || c == '.' || c == '-')
	}
	if !ok {
		return errdefs.Invalid("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, restrictedNameChars)
	}
	return nil
}

// ValidateName tells whether name may name a local volume, with Docker's
// message when it may not.
func ValidateName(name string) error { return validateName(name) }

// randomName is an anonymous volume's name: 64 hex digits, as Docker's.
func randomName() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
