package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
)

// stageState is a stage's image as the steps make it.
type stageState struct {
	img    dockerspec.DockerOCIImage
	key    digest.Digest // cache key of the last step
	hit    bool          // the last step came from the cache
	args   *argScope
	meta   *argScope
	index  int
	out    io.Writer  // this stage's progress
	stepNo int        // the number of its next step
	epoch  *time.Time // SOURCE_DATE_EPOCH: every time in the image
}

func (st *stageState) chains() []digest.Digest { return chainIDs(st.img.RootFS.DiffIDs) }

func (st *stageState) top() digest.Digest {
	c := st.chains()
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

// env is the environment words expand in: the image's ENV and the ARGs.
func (st *stageState) env() []string {
	env := append([]string{}, st.args.env()...)
	// ENV wins over ARG of the same name.
	return mergeEnv(env, st.img.Config.Env)
}

func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
		} else {
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func cloneImage(img dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	var out dockerspec.DockerOCIImage
	raw, _ := json.Marshal(img)
	_ = json.Unmarshal(raw, &out)
	return out
}

// runStage builds one stage from its FROM to its last instruction.
func (r *buildRun) runStage(ctx context.Context, s *Stage, meta *argScope, isTarget bool, out io.Writer, firstStep int) (*stageState, error) {
	st := &stageState{args: newArgScope(), meta: meta, index: s.Index, out: out, stepNo: firstStep, epoch: r.epoch}
	r.printStep(st, s.From)
	if err := r.from(ctx, s, st); err != nil {
		return nil, err
	}
	cmds := s.Commands
	if isTarget && len(r.o.Labels) > 0 {
		cmds = append(append([]*Command{}, cmds...), labelCommand(r.o.Labels))
	}
	// The base image's ONBUILD triggers run first, as Docker runs them.
	triggers := st.img.Config.OnBuild
	st.img.Config.OnBuild = nil
	for _, t := range triggers {
		df, err := Parse(strings.NewReader(t))
		if err != nil || len(df.Stages) > 0 || len(df.MetaArgs) > 0 {
			// A trigger is one instruction without a FROM: parse it as
			// a stage's body.
			df, err = Parse(strings.NewReader("FROM scratch\n" + t))
			if err != nil {
				return nil, fmt.Errorf("ONBUILD trigger %q: %w", t, err)
			}
		}
		for _, c := range df.Stages[0].Commands {
			fmt.Fprintf(st.out, "# Executing ONBUILD trigger: %s\n", c.Original)
			if err := r.doStep(ctx, st, c); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range cmds {
		r.printStep(st, c)
		if err := r.doStep(ctx, st, c); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func labelCommand(labels map[string]string) *Command {
	var b strings.Builder
	b.WriteString("LABEL")
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %q=%q", k, labels[k])
	}
	df, err := Parse(strings.NewReader("FROM scratch\n" + b.String()))
	if err != nil {
		return nil
	}
	c := df.Stages[0].Commands[0]
	c.Line = 0
	return c
}

// from starts a stage: scratch, an earlier stage, or an image (pulled
// when missing or with --pull).
func (r *buildRun) from(ctx context.Context, s *Stage, st *stageState) error {
	name, err := st.meta.expand(r.df, firstWord(s.From))
	if err != nil {
		return err
	}
	if name == "" {
		return parseError(s.From.Line, "base name (%s) should not be blank", firstWord(s.From))
	}
	if j, ok := r.stageIndex(name, s.Index); ok {
		prev := r.stageDone(j)
		st.img = cloneImage(prev.img)
		st.key = prev.key
		st.hit = prev.hit
		fmt.Fprintf(st.out, " ---> %s\n", shortString(string(prev.key)))
		return nil
	}
	if strings.EqualFold(name, "scratch") {
		st.img = dockerspec.DockerOCIImage{Image: ocispec.Image{
			Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
			RootFS:   ocispec.RootFS{Type: "layers"},
		}}
		st.key = cacheKey("", stepInputs{Text: "FROM scratch"})
		st.hit = true
		fmt.Fprintln(st.out, " --->")
		return nil
	}
	img, err := r.baseImage(ctx, name, st.out)
	if err != nil {
		return err
	}
	st.img = cloneImage(*img.cfg)
	st.key = cacheKey("", stepInputs{Text: "FROM", Base: img.id.String()})
	st.hit = true
	fmt.Fprintf(st.out, " ---> %s\n", shortID(img.id))
	return nil
}

// stageDone is the result of a finished stage.
func (r *buildRun) stageDone(i int) *stageState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[i]
}

type baseImg struct {
	id  digest.Digest
	cfg *dockerspec.DockerOCIImage
}

func (r *buildRun) baseImage(ctx context.Context, name string, out io.Writer) (*baseImg, error) {
	if !r.o.Pull {
		if img, err := r.b.images.Resolve(ctx, name); err == nil {
			cfg, err := r.b.images.Config(ctx, img.ID)
			if err != nil {
				return nil, err
			}
			return &baseImg{id: img.ID, cfg: cfg}, nil
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	// Stages in parallel may want the same image: one pull at a time,
	// and a second look once the lock is held.
	r.pullMu.Lock()
	defer r.pullMu.Unlock()
	if !r.o.Pull {
		if img, err := r.b.images.Resolve(ctx, name); err == nil {
			cfg, err := r.b.images.Config(ctx, img.ID)
			if err != nil {
				return nil, err
			}
			return &baseImg{id: img.ID, cfg: cfg}, nil
		}
	}
	res, err := r.b.images.Pull(ctx, name, image.PullOptions{Progress: func(p image.Progress) {
		if p.ID == "" {
			fmt.Fprintln(out, p.Status)
		}
	}})
	if err != nil {
		return nil, err
	}
	cfg, err := r.b.images.Config(ctx, res.ID)
	if err != nil {
		return nil, err
	}
	return &baseImg{id: res.ID, cfg: cfg}, nil
}

// doStep runs one instruction, or takes its result from the cache.
func (r *buildRun) doStep(ctx context.Context, st *stageState, c *Command) error {
	if c.Name == "arg" {
		// ARG changes no image: it only brings values into scope (the
		// steps after it see them in their keys).
		env := st.env()
		if err := r.declareArgsWithMeta(c, st, env); err != nil {
			return err
		}
		fmt.Fprintln(st.out, " ---> CACHED")
		return nil
	}
	in := stepInputs{Text: c.Original, Args: st.args.env()}
	if st.epoch != nil {
		in.Args = append(in.Args, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", st.epoch.Unix()))
	}
	var copySrc *copyPlan
	if c.Name == "copy" || c.Name == "add" {
		plan, err := r.planCopy(ctx, st, c)
		if err != nil {
			return err
		}
		copySrc = plan
		in.Sum, in.Files = plan.sum, plan.files
	}
	if c.Name == "run" {
		sum, files, err := r.runMountInputs(ctx, st, c)
		if err != nil {
			return err
		}
		in.Sum, in.Files = sum, files
	}
	key := cacheKey(st.key, in)
	filtered := r.noCacheFiltered(st)
	if !r.o.NoCache && filtered == "" {
		if e, ok := r.lookup(ctx, key); ok {
			st.img = e.Image
			st.key = key
			st.hit = true
			fmt.Fprintln(st.out, " ---> CACHED")
			return nil
		}
	}
	why := r.whyMissed(ctx, st.key, st.hit, in)
	if filtered != "" && !r.o.NoCache {
		why = filtered
	}
	fmt.Fprintf(st.out, " ---> cache miss: %s\n", why)
	parentKey := st.key
	var err error
	switch c.Name {
	case "run":
		// A RUN may take long: what ran before it is recorded first, so
		// that a build killed meanwhile keeps it as cache.
		if err := r.flush(ctx); err != nil {
			return err
		}
		err = r.run(ctx, st, c)
	case "copy", "add":
		err = r.copy(ctx, st, c, copySrc)
	default:
		err = r.meta(st, c)
	}
	if err != nil {
		return err
	}
	st.key = key
	st.hit = false
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, pendingEntry{
		key:    key,
		step:   stepID(parentKey, in.Text),
		entry:  cacheEntry{Image: cloneImage(st.img), Created: *now()},
		record: stepRecord{Key: key, Args: in.Args, Base: in.Base, Files: in.Files},
	})
	if top := st.top(); top != "" {
		fmt.Fprintf(st.out, " ---> %s\n", shortString(string(key)))
	}
	return nil
}

// declareArgsWithMeta is ARG inside a stage: a name without a default
// takes the value a global ARG gave it.
func (r *buildRun) declareArgsWithMeta(c *Command, st *stageState, env []string) error {
	before := len(st.args.names)
	if err := r.declareArgs(c, st.args, env); err != nil {
		return err
	}
	for _, n := range st.args.names[before:] {
		if !st.args.set[n] && st.meta.set[n] {
			if _, given := r.o.BuildArgs[n]; !given {
				st.args.declare(n, st.meta.vals[n], true)
			}
		}
	}
	return nil
}

// history appends the step's line to the image's history.
func (st *stageState) history(createdBy string, empty bool) {
	t := now()
	if st.epoch != nil {
		t = st.epoch
	}
	st.img.History = append(st.img.History, ocispec.History{Created: t, CreatedBy: createdBy, EmptyLayer: empty})
	st.img.Created = t
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
