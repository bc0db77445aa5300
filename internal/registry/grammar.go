package registry

import (
	"errors"
	"strings"
)

// The reference grammar Docker uses (distribution's), written as plain
// functions: the library's regular expressions cost 3 ms to compile at
// start, in every gantry process — including every container's init.
//
//	reference  := name [ ":" tag ] [ "@" digest ]
//	name       := [ domain "/" ] path-component ( "/" path-component )*
//	domain     := host [ ":" port ]
//	host       := label ( "." label )*  |  "[" ipv6 "]"
//	path-comp  := alnum+ ( separator alnum+ )*      separator: "." "_" "__" "-"+
//	tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//	digest     := algorithm ":" encoded

var errFormat = errors.New("invalid reference format")

const maxNameLength = 255

// parsed is a reference split into its parts, normalised as Docker does.
type parsed struct {
	domain, path, tag, digest string
}

// parseNormalized reads s the way Docker's ParseNormalizedNamed does:
// docker.io and library/ are added where the user left them out.
func parseNormalized(s string) (parsed, error) {
	if s == "" {
		return parsed{}, errors.New("invalid reference format: repository name must have at least one component")
	}
	if isHex64(s) {
		return parsed{}, errors.New("invalid repository name (" + s + "), cannot specify 64-byte hexadecimal strings")
	}
	rest := s
	var p parsed
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		p.digest = rest[i+1:]
		rest = rest[:i]
		if !validDigest(p.digest) {
			return parsed{}, errFormat
		}
	}
	// A tag is after the last ':' that comes after the last '/'.
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && i > strings.LastIndexByte(rest, '/') {
		p.tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(p.tag) {
			return parsed{}, errFormat
		}
	}
	name := rest
	if name == "" {
		return parsed{}, errFormat
	}
	first, remainder, hasSlash := strings.Cut(name, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost" || first != strings.ToLower(first)) {
		p.domain, p.path = first, remainder
	} else {
		p.domain, p.path = dockerHubDomain, name
	}
	if p.domain == "index.docker.io" {
		p.domain = dockerHubDomain
	}
	if p.domain == dockerHubDomain && !strings.Contains(p.path, "/") {
		p.path = "library/" + p.path
	}
	if !validDomain(p.domain) {
		return parsed{}, errFormat
	}
	if p.path != strings.ToLower(p.path) {
		// Docker names the part the user wrote.
		shown := p.path
		if p.domain != dockerHubDomain || strings.HasPrefix(name, dockerHubDomain+"/") {
			shown = remainderOrPath(name, p)
		}
		return parsed{}, errors.New("invalid reference format: repository name (" + shown + ") must be lowercase")
	}
	for _, comp := range strings.Split(p.path, "/") {
		if !validPathComponent(comp) {
			return parsed{}, errFormat
		}
	}
	if len(p.domain)+1+len(p.path) > maxNameLength {
		return parsed{}, errors.New("invalid reference format: repository name must not be more than 255 characters")
	}
	return p, nil
}

func remainderOrPath(name string, p parsed) string {
	if _, rest, ok := strings.Cut(name, "/"); ok && p.domain != dockerHubDomain {
		return rest
	}
	return p.path
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func isAlnumLower(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isAlnumLower(c) || c >= 'A' && c <= 'Z' }

// validPathComponent: alnum+ (separator alnum+)*, separators ".", "_", "__"
// or a run of "-". Upper case is refused earlier with its own message.
func validPathComponent(s string) bool {
	if s == "" || !isAlnumLower(s[0]) || !isAlnumLower(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if isAlnumLower(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !isAlnumLower(s[j]) {
			j++
		}
		sep := s[i:j]
		if sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = j
	}
	return true
}

// validDomain: labels of alnum and inner '-', joined by '.', or a bracketed
// IPv6 address; then an optional numeric port.
func validDomain(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[:end+1], strings.TrimPrefix(s[end+1:], ":")
		if end+1 < len(s) && s[end+1] != ':' {
			return false
		}
		inner := host[1 : len(host)-1]
		if inner == "" || strings.Trim(inner, "0123456789abcdefABCDEF:.") != "" {
			return false
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i+1:]
			if port == "" {
				return false
			}
		}
		for _, label := range strings.Split(host, ".") {
			if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) {
				return false
			}
			for i := 0; i < len(label); i++ {
				if !isAlnum(label[i]) && label[i] != '-' {
					return false
				}
			}
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// validTag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		word := isAlnum(c) || c == '_'
		if !word && (i == 0 || (c != '.' && c != '-')) {
			return false
		}
	}
	return true
}

// validDigest: algorithm ":" encoded, with a known algorithm's length.
func validDigest(s string) bool {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || alg == "" || enc == "" {
		return false
	}
	want := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[alg]
	if want == 0 || len(enc) != want {
		return false
	}
	for i := 0; i < len(enc); i++ {
		if !isHexDigit(enc[i]) {
			return false
		}
	}
	return true
}

// familiarName is Docker's short form of a repository.
func familiarName(domain, path string) string {
	if domain != dockerHubDomain {
		return domain + "/" + path
	}
	return strings.TrimPrefix(path, "library/")
}
