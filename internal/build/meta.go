package build

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/dockerfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
)

// meta runs an instruction that changes only the image's config.
func (r *buildRun) meta(st *stageState, c *Command) error {
	env := st.env()
	expand := func(w string) (string, error) { return expandWord(r.df, w, env) }
	if err := applyMeta(r.df, &st.img.Config, c, expand); err != nil {
		return err
	}
	if c.Name == "maintainer" {
		author, err := expand(nodeWords(c.Node)[0])
		if err != nil {
			return err
		}
		st.img.Author = author
	}
	st.history(c.Original, true)
	return nil
}

// applyMeta applies a config-only instruction to cfg. expand is the word
// expansion of its stage (nil: none, for commit's changes).
func applyMeta(df *Dockerfile, cfg *dockerspec.DockerOCIImageConfig, c *Command, expand func(string) (string, error)) error {
	if expand == nil {
		expand = func(s string) (string, error) { return s, nil }
	}
	n := c.Node
	words := nodeWords(n)
	switch c.Name {
	case "cmd":
		cfg.Cmd = commandOf(n, cfg.Shell)
	case "entrypoint":
		cfg.Entrypoint = commandOf(n, cfg.Shell)
		if len(cfg.Entrypoint) == 0 {
			cfg.Entrypoint = nil
		}
	case "env":
		var env []string
		for x := n.Next; x != nil && x.Next != nil; x = x.Next.Next.Next {
			k, err := expand(x.Value)
			if err != nil {
				return err
			}
			v, err := expand(x.Next.Value)
			if err != nil {
				return err
			}
			// Every pair of one ENV sees the values from before it, as
			// Docker's: `ENV a=1 b=$a` gives b the old a.
			env = append(env, k+"="+v)
			if x.Next.Next == nil {
				break
			}
		}
		cfg.Env = mergeEnv(cfg.Env, env)
	case "label":
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for x := n.Next; x != nil && x.Next != nil; x = x.Next.Next.Next {
			k, err := expand(x.Value)
			if err != nil {
				return err
			}
			v, err := expand(x.Next.Value)
			if err != nil {
				return err
			}
			cfg.Labels[k] = v
			if x.Next.Next == nil {
				break
			}
		}
	case "expose":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, w := range words {
			p, err := expand(w)
			if err != nil {
				return err
			}
			ports, err := parsePorts(p)
			if err != nil {
				return parseError(c.Line, "%v", err)
			}
			for _, port := range ports {
				cfg.ExposedPorts[port] = struct{}{}
			}
		}
	case "workdir":
		w, err := expand(words[0])
		if err != nil {
			return err
		}
		if !strings.HasPrefix(w, "/") {
			w = strings.TrimSuffix(cfg.WorkingDir, "/") + "/" + w
			if cfg.WorkingDir == "" {
				w = "/" + strings.TrimPrefix(w, "/")
			}
		}
		cfg.WorkingDir = cleanPath(w)
	case "user":
		u, err := expand(words[0])
		if err != nil {
			return err
		}
		cfg.User = u
	case "volume":
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, w := range words {
			v, err := expand(w)
			if err != nil {
				return err
			}
			if strings.TrimSpace(v) == "" {
				return parseError(c.Line, "VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "stopsignal":
		s, err := expand(words[0])
		if err != nil {
			return err
		}
		cfg.StopSignal = s
	case "shell":
		cfg.Shell = words
	case "maintainer":
		// Kept as the image's author by the caller (it is not config).
	case "onbuild":
		sub := n.Next.Children[0]
		trigger := strings.TrimSpace(sub.Original)
		cfg.OnBuild = append(cfg.OnBuild, trigger)
	case "healthcheck":
		hc, err := healthcheck(c)
		if err != nil {
			return err
		}
		cfg.Healthcheck = hc
	default:
		return errdefs.Invalid("%s is not a valid change command", strings.ToUpper(c.Name))
	}
	return nil
}

// commandOf reads CMD/ENTRYPOINT/RUN: the exec form as given, the shell
// form through the stage's shell.
func commandOf(n *dockerfile.Node, shell []string) []string {
	words := nodeWords(n)
	if isJSON(n) {
		return words
	}
	if len(words) == 0 {
		return nil
	}
	sh := shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), words[0])
}

func parsePorts(p string) ([]string, error) {
	proto := "tcp"
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		proto = strings.ToLower(p[i+1:])
		p = p[:i]
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(p, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", p)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("invalid containerPort: %s", p)
		}
	}
	var out []string
	for i := start; i <= end; i++ {
		out = append(out, fmt.Sprintf("%d/%s", i, proto))
	}
	return out, nil
}

func cleanPath(p string) string {
	parts := strings.Split(p, "/")
	var out []string
	for _, s := range parts {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// healthcheck reads HEALTHCHECK [OPTIONS] CMD ... | NONE.
func healthcheck(c *Command) (*dockerspec.HealthcheckConfig, error) {
	n := c.Node.Next
	typ := strings.ToUpper(n.Value)
	if typ == "NONE" {
		if n.Next != nil {
			return nil, parseError(c.Line, "HEALTHCHECK NONE takes no arguments")
		}
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}, nil
	}
	if typ != "CMD" {
		return nil, parseError(c.Line, "Unknown type %q in HEALTHCHECK (try CMD)", typ)
	}
	hc := &dockerspec.HealthcheckConfig{}
	if n.Next == nil {
		return nil, parseError(c.Line, "Missing command after HEALTHCHECK CMD")
	}
	words := nodeWords(n)
	if c.Node.Attributes["json"] {
		hc.Test = append([]string{"CMD"}, words...)
	} else {
		hc.Test = []string{"CMD-SHELL", strings.Join(words, " ")}
	}
	for _, f := range []struct {
		name string
		dst  *time.Duration
	}{{"interval", &hc.Interval}, {"timeout", &hc.Timeout}, {"start-period", &hc.StartPeriod}, {"start-interval", &hc.StartInterval}} {
		if v, ok := c.flag(f.name); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, parseError(c.Line, "invalid value for --%s: %v", f.name, err)
			}
			if d != 0 && d < time.Millisecond {
				return nil, parseError(c.Line, "Interval %q cannot be less than 1ms", f.name)
			}
			*f.dst = d
		}
	}
	if v, ok := c.flag("retries"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, parseError(c.Line, "--retries cannot be negative (%s)", v)
		}
		hc.Retries = n
	}
	return hc, nil
}
