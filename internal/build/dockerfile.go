// Package build turns a Dockerfile and its context into an image: parsing
// (internal/dockerfile, and buildkit's word expansion), stages as a graph, one
// step per instruction, RUN in a throw-away container, COPY and ADD straight
// into a new layer, each step cached under a key that says exactly what it
// depends on.
package build

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gantry-dev/gantry/internal/dockerfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// Dockerfile is a parsed Dockerfile: the ARGs before the first FROM and the
// stages.
type Dockerfile struct {
	MetaArgs []*Command
	Stages   []*Stage
	Escape   rune
}

// Stage is one FROM and the instructions up to the next.
type Stage struct {
	Index    int
	Name     string // AS name, lower-cased; "" when unnamed
	From     *Command
	Commands []*Command
}

// Command is one instruction as parsed.
type Command struct {
	Name     string // lower case: "run", "copy", ...
	Node     *dockerfile.Node
	Flags    []string
	Line     int
	Original string
}

// known is every instruction the builder runs.
var known = map[string]bool{
	"from": true, "run": true, "cmd": true, "entrypoint": true, "env": true, "arg": true,
	"label": true, "expose": true, "workdir": true, "user": true, "volume": true,
	"shell": true, "stopsignal": true, "healthcheck": true, "onbuild": true,
	"maintainer": true, "copy": true, "add": true,
}

// ParseError is a Dockerfile that cannot be read, with its line.
func parseError(line int, format string, args ...any) error {
	return errdefs.Invalid("dockerfile parse error on line %d: %s", line, fmt.Sprintf(format, args...))
}

// Parse reads a Dockerfile.
func Parse(r io.Reader) (*Dockerfile, error) {
	data, err := io.ReadAll(io.LimitReader(r, 32<<20))
	if err != nil {
		return nil, err
	}
	res, err := dockerfile.Parse(data)
	if err != nil {
		var pe *dockerfile.Error
		switch {
		case errors.As(err, &pe) && pe.Msg == "file with no instructions":
			return nil, errdefs.Invalid("the Dockerfile cannot be empty")
		case errors.As(err, &pe):
			return nil, parseError(pe.Line, "%s", pe.Msg)
		}
		return nil, errdefs.Invalid("dockerfile parse error: %v", err)
	}
	if err := checkSyntaxDirective(res.Directives); err != nil {
		return nil, err
	}
	df := &Dockerfile{Escape: res.EscapeToken}
	var cur *Stage
	for _, n := range res.AST.Children {
		c := &Command{Name: strings.ToLower(n.Value), Node: n, Flags: n.Flags, Line: n.StartLine, Original: n.Original}
		if !known[c.Name] {
			return nil, parseError(c.Line, "unknown instruction: %s", strings.ToUpper(n.Value))
		}
		if err := checkFlags(c); err != nil {
			return nil, err
		}
		if c.Name == "from" {
			cur = &Stage{Index: len(df.Stages), From: c}
			words := nodeWords(n)
			switch {
			case len(words) == 3 && strings.EqualFold(words[1], "as"):
				cur.Name = strings.ToLower(words[2])
				if !validStageName(cur.Name) {
					return nil, parseError(c.Line, "invalid name for build stage: %q, name can't start with a number or contain symbols", words[2])
				}
			case len(words) != 1:
				return nil, parseError(c.Line, "FROM requires either one or three arguments")
			}
			for _, s := range df.Stages {
				if cur.Name != "" && s.Name == cur.Name {
					return nil, parseError(c.Line, "duplicate stage name %q", cur.Name)
				}
			}
			df.Stages = append(df.Stages, cur)
			continue
		}
		if cur == nil {
			if c.Name == "arg" {
				df.MetaArgs = append(df.MetaArgs, c)
				continue
			}
			return nil, parseError(c.Line, "no build stage in current context")
		}
		if err := checkArgs(c); err != nil {
			return nil, err
		}
		cur.Commands = append(cur.Commands, c)
	}
	if len(df.Stages) == 0 {
		return nil, errdefs.Invalid("dockerfile parse error: no build stage in current context: the Dockerfile has no FROM")
	}
	return df, nil
}

func validStageName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// checkSyntaxDirective accepts `# syntax=` only for the standard Dockerfile
// frontend: no frontend image can be pulled and run here.
func checkSyntaxDirective(ds []dockerfile.Directive) error {
	for _, d := range ds {
		if d.Name != "syntax" {
			continue
		}
		v := strings.TrimPrefix(d.Value, "docker.io/")
		name, _, _ := strings.Cut(v, "@")
		name, _, _ = strings.Cut(name, ":")
		if name != "docker/dockerfile" && name != "docker/dockerfile-upstream" {
			return errdefs.Invalid("dockerfile parse error on line %d: unsupported frontend %q: gantry builds with its own Dockerfile frontend and runs no frontend images (use docker/dockerfile or drop the syntax line)", d.Line, d.Value)
		}
	}
	return nil
}

// nodeWords is the list of values after an instruction.
func nodeWords(n *dockerfile.Node) []string { return n.Words() }

func isJSON(n *dockerfile.Node) bool { return n.Attributes["json"] }

// flagsAllowed are the flags each instruction takes.
var flagsAllowed = map[string][]string{
	"from":        {"platform"},
	"run":         {"mount", "network", "security"},
	"copy":        {"from", "chown", "chmod", "link", "parents", "exclude"},
	"add":         {"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude", "unpack"},
	"healthcheck": {"interval", "timeout", "start-period", "start-interval", "retries"},
}

// checkFlags refuses a flag the instruction does not take, as Docker does.
func checkFlags(c *Command) error {
	for _, f := range c.Flags {
		name, _, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		ok := false
		for _, a := range flagsAllowed[c.Name] {
			ok = ok || a == name
		}
		if !ok || !strings.HasPrefix(f, "--") {
			return parseError(c.Line, "unknown flag: %s", name)
		}
	}
	return nil
}

// flag returns the values of --name=value flags.
func (c *Command) flag(name string) (string, bool) {
	var v string
	var found bool
	for _, f := range c.Flags {
		k, val, hasV := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k == name {
			found = true
			v = val
			if !hasV {
				v = "true"
			}
		}
	}
	return v, found
}

func (c *Command) flags(name string) []string {
	var out []string
	for _, f := range c.Flags {
		k, val, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k == name {
			out = append(out, val)
		}
	}
	return out
}

// checkArgs refuses instructions without their required arguments.
func checkArgs(c *Command) error {
	n := len(nodeWords(c.Node))
	upper := strings.ToUpper(c.Name)
	switch c.Name {
	case "copy", "add":
		if n < 2 && len(c.Node.Heredocs) == 0 {
			return parseError(c.Line, "%s requires at least two arguments, but only one was provided. Destination could not be determined", upper)
		}
	case "run", "cmd", "entrypoint", "shell", "volume", "expose", "label", "env", "arg", "workdir", "user", "stopsignal", "maintainer", "onbuild":
		if n == 0 && c.Name != "cmd" && c.Name != "entrypoint" && c.Name != "run" {
			return parseError(c.Line, "%s requires at least one argument", upper)
		}
		if n == 0 && c.Name == "run" && len(c.Node.Heredocs) == 0 {
			return parseError(c.Line, "RUN requires at least one argument")
		}
	case "healthcheck":
		if n == 0 {
			return parseError(c.Line, "HEALTHCHECK requires at least one argument")
		}
	}
	if c.Name == "shell" && !isJSON(c.Node) {
		return parseError(c.Line, "SHELL requires the arguments to be in JSON form")
	}
	if c.Name == "onbuild" {
		if sub := c.Node.Next.Children; len(sub) > 0 {
			switch strings.ToLower(sub[0].Value) {
			case "onbuild":
				return parseError(c.Line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
			case "from", "maintainer":
				return parseError(c.Line, "%s isn't allowed as an ONBUILD trigger", strings.ToUpper(sub[0].Value))
			}
		}
	}
	return nil
}
