package build

import (
	"runtime"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// predefinedArgs may be given with --build-arg without an ARG: they reach
// RUN's environment and are never stored in the image.
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
	// Not in RUN's environment, but never "not consumed": it sets the
	// image's times.
	"SOURCE_DATE_EPOCH": true,
}

// argScope is the ARGs declared so far with their values.
type argScope struct {
	names []string
	vals  map[string]string
	set   map[string]bool // has a value (ARG without default nor build-arg has none)
}

func newArgScope() *argScope {
	return &argScope{vals: map[string]string{}, set: map[string]bool{}}
}

func (a *argScope) clone() *argScope {
	c := newArgScope()
	c.names = append(c.names, a.names...)
	for k, v := range a.vals {
		c.vals[k] = v
	}
	for k, v := range a.set {
		c.set[k] = v
	}
	return c
}

func (a *argScope) declare(name, value string, hasValue bool) {
	if _, ok := a.set[name]; !ok {
		a.names = append(a.names, name)
	}
	a.set[name] = hasValue
	if hasValue {
		a.vals[name] = value
	} else {
		delete(a.vals, name)
	}
}

// env is the declared args that have values, as KEY=value, sorted.
func (a *argScope) env() []string {
	var out []string
	for _, n := range a.names {
		if a.set[n] {
			out = append(out, n+"="+a.vals[n])
		}
	}
	sort.Strings(out)
	return out
}

// expand runs Dockerfile word expansion with only these args (FROM lines).
func (a *argScope) expand(df *Dockerfile, word string) (string, error) {
	return expandWord(df, word, a.env())
}

func expandWord(df *Dockerfile, word string, env []string) (string, error) {
	lex := shell.NewLex(df.Escape)
	out, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(env))
	if err != nil {
		return "", errdefs.Invalid("%v", err)
	}
	return out, nil
}

func expandWords(df *Dockerfile, word string, env []string) ([]string, error) {
	lex := shell.NewLex(df.Escape)
	out, err := lex.ProcessWords(word, shell.EnvsFromSlice(env))
	if err != nil {
		return nil, errdefs.Invalid("%v", err)
	}
	return out, nil
}

// platformArgs are BuildKit's automatic platform args, for the host.
func platformArgs() map[string]string {
	arch := runtime.GOARCH
	variant := ""
	if arch == "arm64" {
		variant = "v8"
	}
	p := "linux/" + arch
	if variant != "" {
		p += "/" + variant
	}
	return map[string]string{
		"TARGETPLATFORM": p, "TARGETOS": "linux", "TARGETARCH": arch, "TARGETVARIANT": variant,
		"BUILDPLATFORM": p, "BUILDOS": "linux", "BUILDARCH": arch, "BUILDVARIANT": variant,
	}
}

// metaArgs evaluates the ARGs before the first FROM.
func (r *buildRun) metaArgs() (*argScope, error) {
	a := newArgScope()
	for k, v := range platformArgs() {
		a.declare(k, v, true)
	}
	for _, c := range r.df.MetaArgs {
		if err := r.declareArgs(c, a, a.env()); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// declareArgs handles one ARG instruction: each NAME[=default], the value
// from --build-arg when given.
func (r *buildRun) declareArgs(c *Command, a *argScope, env []string) error {
	for _, w := range nodeWords(c.Node) {
		name, def, hasDef := strings.Cut(w, "=")
		if name == "" {
			return parseError(c.Line, "ARG names can not be blank")
		}
		if hasDef {
			v, err := expandWord(r.df, def, env)
			if err != nil {
				return err
			}
			def = v
		}
		v, given := r.o.BuildArgs[name]
		if given {
			r.mu.Lock()
			if r.used != nil {
				r.used[name] = true
			}
			r.mu.Unlock()
		}
		if given && v != nil {
			a.declare(name, *v, true)
			continue
		}
		a.declare(name, def, hasDef)
	}
	return nil
}

// HostArch is the architecture images are built for.
func HostArch() string { return runtime.GOARCH }
