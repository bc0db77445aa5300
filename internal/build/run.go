package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// run is RUN: the command in a throw-away container on top of the stage's
// layers; its writable layer becomes the step's layer.
func (r *buildRun) run(ctx context.Context, st *stageState, c *Command) error {
	mounts, err := r.runMounts(ctx, st, c)
	if err != nil {
		return err
	}
	defer mounts.release()
	if _, ok := c.flag("security"); ok {
		return errdefs.Invalid("dockerfile line %d: RUN --security is not supported", c.Line)
	}
	network := r.o.NetworkMode
	if v, ok := c.flag("network"); ok {
		network = v
	}
	switch network {
	case "", "default", "bridge":
		// The host's until the builder gets a network of its own.
		network = "host"
	case "host", "none":
	default:
		return errdefs.Invalid("dockerfile line %d: network mode %q not supported by the builder: use default, none or host", c.Line, network)
	}
	cmd := commandOf(c.Node, st.img.Config.Shell)
	if !isJSON(c.Node) && len(c.Node.Heredocs) > 0 {
		words := nodeWords(c.Node)
		if len(words) == 1 && strings.HasPrefix(strings.TrimSpace(words[0]), "<<") {
			sh := st.img.Config.Shell
			if len(sh) == 0 {
				sh = []string{"/bin/sh", "-c"}
			}
			cmd = append(append([]string{}, sh...), c.Node.Heredocs[0].Content)
		}
	}
	if len(cmd) == 0 {
		return parseError(c.Line, "RUN requires at least one argument")
	}
	env := st.env()
	for k, v := range r.o.BuildArgs {
		if predefinedArgs[k] && v != nil && k != "SOURCE_DATE_EPOCH" {
			env = mergeEnv([]string{k + "=" + *v}, env)
		}
	}
	env = mergeEnv(env, mounts.env)
	tail := &tailBuffer{max: 4096}
	out := io.MultiWriter(st.out, tail)
	cfg := &container.Config{
		Cmd:        cmd,
		Env:        env,
		User:       st.img.Config.User,
		WorkingDir: st.img.Config.WorkingDir,
		Image:      "build step",
		Entrypoint: []string{},
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	chains := st.chains()
	r.unholdMeta()
	defer r.holdMeta()
	code, upper, err := r.b.runner.RunStep(ctx, StepRun{
		ImageID:     st.key,
		Layers:      chains,
		Image:       &st.img,
		Config:      cfg,
		NetworkMode: network,
		Output:      out,
		Binds:       mounts.binds,
		Tmpfs:       mounts.tmpfs,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		msg := fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(cmd, " "), code)
		if r.o.Quiet {
			if t := strings.TrimSpace(tail.String()); t != "" {
				msg += "\n" + t
			}
		}
		return &StepError{Msg: msg, Code: code, Output: tail.String()}
	}
	defer upper.Abort()
	// The mount points the runtime made for --mount targets are not the
	// command's work: they stay out of the layer, as BuildKit leaves them.
	if err := r.removeMountStubs(upper.Dir, chains, mounts.targets); err != nil {
		return err
	}
	if err := clampTimes(upper.Dir, st.epoch); err != nil {
		return err
	}
	l, err := r.b.images.CommitLayer(ctx, upper, "", st.top())
	if err != nil {
		return err
	}
	r.b.compress(l.ChainID)
	st.img.RootFS.DiffIDs = append(st.img.RootFS.DiffIDs, l.DiffID)
	createdBy := "RUN " + strings.Join(cmd, " ")
	if args := st.args.env(); len(args) > 0 {
		createdBy = fmt.Sprintf("RUN |%d %s %s", len(args), strings.Join(args, " "), strings.Join(cmd, " "))
	}
	st.history(createdBy, false)
	return nil
}

// StepError is a RUN whose command failed: Docker's message and the exit
// code.
type StepError struct {
	Msg    string
	Code   int
	Output string // its last lines
}

func (e *StepError) Error() string { return e.Msg }

// tailBuffer keeps the last bytes written to it, for a failed step's
// message.
type tailBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	lines := strings.Split(strings.TrimRight(t.buf.String(), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
