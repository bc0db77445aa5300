package registry

import (
	"runtime"
	"strings"

	"github.com/gantry-dev/gantry/internal/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPlatform is the platform images are pulled for when none is asked
// for: linux on the host's architecture.
func DefaultPlatform() ocispec.Platform {
	return NormalizePlatform(ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH, Variant: hostVariant()})
}

// hostVariant guesses the CPU variant the way the Go toolchain was told to
// target it; arm is assumed to be v7, the only 32-bit arm Docker ships for.
func hostVariant() string {
	switch runtime.GOARCH {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	}
	return ""
}

// ParsePlatform reads "os/arch[/variant]" (as `--platform` takes it); "arch"
// alone means linux.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	for _, p := range parts {
		if p == "" {
			return ocispec.Platform{}, errdefs.Invalid("invalid platform %q: expected os/arch[/variant]", s)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		p = ocispec.Platform{OS: "linux", Architecture: parts[0]}
	case 2:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return ocispec.Platform{}, errdefs.Invalid("invalid platform %q: expected os/arch[/variant]", s)
	}
	return NormalizePlatform(p), nil
}

// FormatPlatform is "os/arch[/variant]".
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// NormalizePlatform maps the aliases people and tools use to the names
// registries use (x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7, ...).
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	p.Architecture = strings.ToLower(p.Architecture)
	p.Variant = strings.ToLower(p.Variant)
	switch p.OS {
	case "macos":
		p.OS = "darwin"
	}
	switch p.Architecture {
	case "i386":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	switch p.Architecture {
	case "amd64":
		if p.Variant == "v1" {
			p.Variant = ""
		}
	case "arm64":
		// arm64 images rarely say v8, and v8 is what "no variant" means.
		if p.Variant == "8" || p.Variant == "v8" {
			p.Variant = ""
		}
	case "arm":
		switch p.Variant {
		case "", "7":
			p.Variant = "v7"
		case "5", "6", "8":
			p.Variant = "v" + p.Variant
		}
	}
	return p
}

// platformRank says how well an index entry's platform serves want: 0 means
// not at all, higher is better. An exact variant beats an older compatible
// one (arm v7 hosts run v6 and v5 images).
func platformRank(want, have ocispec.Platform) int {
	want, have = NormalizePlatform(want), NormalizePlatform(have)
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return 0
	}
	if want.Variant == have.Variant {
		return 100
	}
	wv, hv := variantLevel(want.Variant), variantLevel(have.Variant)
	if wv < 0 || hv < 0 || hv > wv {
		return 0
	}
	return 1 + hv
}

// variantLevel turns "v7" into 7, "" into 0 and anything else into -1.
func variantLevel(v string) int {
	if v == "" {
		return 0
	}
	if len(v) < 2 || v[0] != 'v' {
		return -1
	}
	n := 0
	for _, c := range v[1:] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
