package flagvalue

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
)

// ValidateEnv checks a -e value. Names are deliberately not checked beyond
// being non-empty: what a valid name is belongs to the program in the
// container (moby#16585, moby#25099). A bare NAME takes its value from our
// own environment when we have one, and is passed on as is otherwise.
func ValidateEnv(val string) (string, error) {
	name, _, hasValue := strings.Cut(val, "=")
	if name == "" {
		return "", errors.New("invalid environment variable: " + val)
	}
	if hasValue {
		return val, nil
	}
	if v, ok := os.LookupEnv(name); ok {
		return name + "=" + v, nil
	}
	return val, nil
}

// blanks are what docker counts as whitespace in label and env-file keys.
const blanks = " \t"

// ValidateLabel checks a `key[=value]` label: the key, less its leading
// blanks, must be non-empty and hold no blank. The value is returned
// untouched, leading blanks included, as docker does.
func ValidateLabel(val string) (string, error) {
	key, _, _ := strings.Cut(val, "=")
	key = strings.TrimLeft(key, blanks)
	if key == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", val)
	}
	if strings.ContainsAny(key, blanks) {
		return "", fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return val, nil
}

// ValidateIPAddress accepts what net.ParseIP does, surrounding spaces
// allowed, and returns the canonical form. "[::1]" is refused.
func ValidateIPAddress(val string) (string, error) {
	if ip := net.ParseIP(strings.TrimSpace(val)); ip != nil {
		return ip.String(), nil
	}
	return "", fmt.Errorf("IP address is not correctly formatted: %s", val)
}

// ValidateDNSSearch checks a --dns-search domain; "." stands for the empty
// domain.
func ValidateDNSSearch(val string) (string, error) {
	val = strings.Trim(val, " ")
	if val == "." {
		return val, nil
	}
	if !strings.ContainsFunc(val, isASCIILetter) {
		return "", fmt.Errorf("%s is not a valid domain", val)
	}
	if m := domainPattern().FindStringSubmatch(val); m != nil && len(m[1]) < 255 {
		return m[1], nil
	}
	return "", fmt.Errorf("%s is not a valid domain", val)
}

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

// domainPattern is docker's domain expression, compiled on first use only.
// Docker's spells its groups "(:?" (meaning "(?:"), which in effect lets a
// colon precede a label or a dot; we keep that quirk since we promise the
// same answers. Group 1 is the domain without a trailing dot or spaces.
var domainPattern = sync.OnceValue(func() *regexp.Regexp {
	const label = `[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?`
	return regexp.MustCompile(`^(:?:?` + label + `(?::?\.:?` + label + `)*)\.?\s*$`)
})

// sysctlsAllowed are the namespaced sysctls docker lets a container set
// besides those under sysctlPrefixesAllowed.
var sysctlsAllowed = [...]string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

var sysctlPrefixesAllowed = [...]string{"net.", "fs.mqueue."}

// ValidateSysctl checks a --sysctl `name=value` against the sysctls that
// are namespaced, hence safe to set per container.
func ValidateSysctl(val string) (string, error) {
	name, _, ok := strings.Cut(val, "=")
	if ok && name != "" {
		for _, s := range sysctlsAllowed {
			if name == s {
				return val, nil
			}
		}
		for _, p := range sysctlPrefixesAllowed {
			if strings.HasPrefix(name, p) {
				return val, nil
			}
		}
	}
	return "", fmt.Errorf("sysctl '%s' is not allowed", val)
}

// ParseLink splits a --link `name[:alias]` into container name and alias.
// A name starting with "/" is the form the daemon reports links in
// (`/name:/container/alias`), so it is read back that way.
func ParseLink(val string) (name, alias string, err error) {
	if val == "" {
		return "", "", errors.New("empty string specified for links")
	}
	name, alias, ok := strings.Cut(val, ":")
	if !ok {
		return val, val, nil
	}
	if strings.Contains(alias, ":") {
		return "", "", errors.New("bad format for links: " + val)
	}
	if strings.HasPrefix(name, "/") {
		_, alias = path.Split(alias)
		return name[1:], alias, nil
	}
	return name, alias, nil
}

// ValidateLink checks a --link value and returns it unchanged.
func ValidateLink(val string) (string, error) {
	_, _, err := ParseLink(val)
	return val, err
}

// ValidateExtraHost checks an --add-host `host:ip` or `host=ip` and returns
// it as `host:ip`. The "=" form exists because an IPv6 address holds
// colons; the address may also be bracketed. "host-gateway" is resolved by
// the daemon.
func ValidateExtraHost(val string) (string, error) {
	host, ip, ok := strings.Cut(val, "=")
	if !ok {
		host, ip, ok = strings.Cut(val, ":")
	}
	if !ok || host == "" || strings.Contains(host, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", val)
	}
	if ip != "host-gateway" {
		if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
			ip = ip[1 : len(ip)-1]
		}
		if _, err := ValidateIPAddress(ip); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	return host + ":" + ip, nil
}
