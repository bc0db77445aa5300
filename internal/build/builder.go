package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/image"
	"github.com/gantry-dev/gantry/internal/mount"
	"github.com/gantry-dev/gantry/internal/registry"
	"github.com/gantry-dev/gantry/internal/snapshot"
	"github.com/gantry-dev/gantry/internal/store"
)

// Images is what the builder needs of the image service.
type Images interface {
	Resolve(ctx context.Context, name string) (store.Image, error)
	Config(ctx context.Context, id digest.Digest) (*dockerspec.DockerOCIImage, error)
	Pull(ctx context.Context, name string, opts image.PullOptions) (*image.PullResult, error)
	Snapshots() *snapshot.Snapshotter
	CommitLayer(ctx context.Context, st *snapshot.Staged, src string, parent digest.Digest) (image.NewLayer, error)
	CompressLayer(ctx context.Context, chainID digest.Digest) error
	CreateImage(ctx context.Context, cfg *dockerspec.DockerOCIImage, parent digest.Digest, names []string, also ...func(*store.Tx) error) (digest.Digest, error)
	LayerRecorded(ctx context.Context, chainID digest.Digest) bool
	Metadata(ctx context.Context, write bool, fn func(*store.Tx) error) error
	RemoveUnusedLayers(ctx context.Context, layers []digest.Digest) (int64, error)
	HoldMetadata() (release func(), err error)
}

// Runner runs a RUN step's command in a throw-away container (the
// container service): exit code, and on success the container's writable
// layer, staged.
type Runner interface {
	RunStep(ctx context.Context, req StepRun) (int, *snapshot.Staged, error)
}

// StepRun is one RUN for the Runner.
type StepRun struct {
	ImageID     digest.Digest
	Layers      []digest.Digest
	Image       *dockerspec.DockerOCIImage
	Config      *container.Config
	NetworkMode string
	Output      io.Writer
	Binds       []string          // host:container[:ro]
	Tmpfs       map[string]string // container path → options
}

// Builder builds images; one per daemon.
type Builder struct {
	images Images
	runner Runner
	tmpDir string
	hashes hashCache
	bg     sync.WaitGroup // layers being compressed
}

// compress makes a new layer's gzip blob in the background: a build does
// not wait for it (a push that comes first makes it itself).
func (b *Builder) compress(chainID digest.Digest) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		_ = b.images.CompressLayer(context.Background(), chainID)
	}()
}

// cacheDir holds RUN --mount=type=cache directories.
func (b *Builder) cacheDir() string { return filepath.Join(filepath.Dir(b.tmpDir), "cache") }

// Wait waits for the background work of earlier builds.
func (b *Builder) Wait() { b.bg.Wait() }

// New makes a builder; tmpDir holds unpacked contexts while they are used.
func New(images Images, runner Runner, tmpDir string) *Builder {
	_ = os.MkdirAll(tmpDir, 0o700)
	// What a build killed with the daemon left: the mount points of its
	// COPY steps, named after their writable snapshots.
	if ents, err := os.ReadDir(tmpDir); err == nil {
		for _, e := range ents {
			p := filepath.Join(tmpDir, e.Name())
			_ = mount.Unmount(context.Background(), p)
			if os.Remove(p) == nil {
				_ = images.Snapshots().Remove(context.Background(), e.Name())
			}
		}
	}
	b := &Builder{images: images, runner: runner, tmpDir: tmpDir}
	b.clearRunMounts()
	return b
}

// Options are a build's.
type Options struct {
	ContextDir     string // the context, a directory
	Dockerfile     string // its name in the context ("Dockerfile" by default)
	DockerfileData []byte // the Dockerfile itself, when not read from the context
	Tags           []string
	BuildArgs      map[string]*string
	Target         string
	Labels         map[string]string
	NoCache        bool
	Pull           bool
	NetworkMode    string
	Quiet          bool
	Out            io.Writer         // progress text, as Docker's classic builder prints it
	Secrets        map[string][]byte // RUN --mount=type=secret, by id
	NoCacheFilter  []string          // stages whose steps miss the cache
}

// Result is a finished build.
type Result struct {
	ID digest.Digest
}

// Build runs a build to its end. On failure nothing is tagged and no
// container or mount is left; the layers of the steps that succeeded stay,
// as cache.
func (b *Builder) Build(ctx context.Context, o Options) (*Result, error) {
	if o.Out == nil || o.Quiet {
		o.Out = io.Discard
	}
	// Bad tags fail the build before it starts, as Docker's.
	for _, t := range o.Tags {
		ref, err := registry.ParseReference(t)
		if err != nil {
			return nil, errdefs.Invalid("invalid tag %q: %v", t, err)
		}
		if ref.Digest() != "" {
			return nil, errdefs.Invalid("invalid tag %q: a tag cannot hold a digest", t)
		}
	}
	data := o.DockerfileData
	name := o.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	root, err := os.OpenRoot(o.ContextDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if data == nil {
		data, err = root.ReadFile(filepath.ToSlash(filepath.Clean(name)))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, errdefs.Invalid("Cannot locate specified Dockerfile: %s", name)
			}
			if strings.Contains(err.Error(), "escapes") {
				return nil, errdefs.Invalid("forbidden path outside the build context: %s", name)
			}
			return nil, err
		}
	}
	df, err := Parse(strings.NewReader(string(data)))
	if err != nil {
		return nil, err
	}
	ignoreData, err := root.ReadFile(filepath.ToSlash(filepath.Clean(name)) + ".dockerignore")
	if err != nil {
		ignoreData, _ = root.ReadFile(".dockerignore")
	}
	bctx, err := openContext(o.ContextDir, ignoreData, &b.hashes)
	if err != nil {
		return nil, err
	}
	defer bctx.Close()
	run := &buildRun{b: b, o: o, df: df, ctx: bctx, done: map[int]*stageState{}, out: o.Out}
	if err := run.checkNoCacheFilter(); err != nil {
		return nil, err
	}
	if v, ok := o.BuildArgs["SOURCE_DATE_EPOCH"]; ok && v != nil && *v != "" {
		sec, err := strconv.ParseInt(*v, 10, 64)
		if err != nil || sec < 0 {
			return nil, errdefs.Invalid("invalid SOURCE_DATE_EPOCH %q: seconds since 1970 expected", *v)
		}
		t := time.Unix(sec, 0).UTC()
		run.epoch = &t
	}
	run.holdMeta()
	defer run.unholdMeta()
	defer func() {
		for _, f := range run.cleanup {
			_ = os.Remove(f)
		}
	}()
	st, err := run.build(ctx)
	if err != nil {
		// What ran is cache even when a later step failed.
		_ = run.flush(context.WithoutCancel(ctx))
		return nil, b.explainNoSpace(err)
	}
	if len(st.img.RootFS.DiffIDs) == 0 && st.img.RootFS.Type == "" {
		st.img.RootFS.Type = "layers"
	}
	// The cache records go with the image, in one transaction.
	var also []func(*store.Tx) error
	if pending := run.takePending(); len(pending) > 0 {
		also = append(also, func(tx *store.Tx) error { return writePending(tx, pending) })
	}
	id, err := b.images.CreateImage(ctx, &st.img, "", o.Tags, also...)
	if err != nil {
		if len(also) > 0 {
			_ = b.images.Metadata(context.WithoutCancel(ctx), true, also[0])
		}
		return nil, b.explainNoSpace(err)
	}
	return &Result{ID: id}, nil
}

// buildRun is one build in progress.
type buildRun struct {
	b       *Builder
	o       Options
	df      *Dockerfile
	ctx     *buildContext
	done    map[int]*stageState
	out     io.Writer
	steps   int
	used    map[string]bool // build args consumed
	pending []pendingEntry  // results to record in the cache
	deps    map[int][]int   // stage → the stages it needs
	mu      sync.Mutex      // used, pending, done: stages run in parallel
	pullMu  sync.Mutex      // one base image pull at a time
	cleanup []string        // files to remove when the build ends
	epoch   *time.Time      // SOURCE_DATE_EPOCH, for reproducible images

	holdMu  sync.Mutex // the metadata store held open between RUNs
	holds   int
	release func()
}

// holdMeta keeps the metadata store open while the build looks up its
// cache (a few transactions a step); unholdMeta lets it go, around RUNs,
// which may take long.
func (r *buildRun) holdMeta() {
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	if r.holds == 0 {
		if rel, err := r.b.images.HoldMetadata(); err == nil {
			r.release = rel
		}
	}
	r.holds++
}

func (r *buildRun) unholdMeta() {
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
	r.holds--
	if r.holds == 0 && r.release != nil {
		r.release()
		r.release = nil
	}
}

// build works out which stages the target needs and builds them in order.
func (r *buildRun) build(ctx context.Context) (*stageState, error) {
	meta, err := r.metaArgs()
	if err != nil {
		return nil, err
	}
	r.used = map[string]bool{}
	target := len(r.df.Stages) - 1
	if r.o.Target != "" {
		target = -1
		for _, s := range r.df.Stages {
			if s.Name == strings.ToLower(r.o.Target) {
				target = s.Index
			}
		}
		if target < 0 {
			return nil, errdefs.Invalid("failed to reach build target %s in Dockerfile", r.o.Target)
		}
	}
	order, err := r.stageOrder(target, meta)
	r.deps = r.stageDeps(order, meta)
	if err != nil {
		return nil, err
	}
	first := map[int]int{} // each stage's first step number
	for _, i := range order {
		first[i] = r.steps + 1
		r.steps += 1 + len(r.df.Stages[i].Commands)
	}
	if len(r.o.Labels) > 0 {
		r.steps++
	}
	if err := r.runStages(ctx, order, first, target, meta); err != nil {
		return nil, err
	}
	var unused []string
	for k := range r.o.BuildArgs {
		if !r.used[k] && !predefinedArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		fmt.Fprintf(r.out, "[Warning] One or more build-args %v were not consumed\n", unused)
	}
	return r.done[target], nil
}

// stageOrder lists the stages target needs, dependencies first; stages
// nothing needs are skipped.
func (r *buildRun) stageOrder(target int, meta *argScope) ([]int, error) {
	var order []int
	state := map[int]int{} // 1 visiting, 2 done
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case 1:
			return errdefs.Invalid("circular dependency detected on stage: %s", r.stageLabel(i))
		case 2:
			return nil
		}
		state[i] = 1
		s := r.df.Stages[i]
		deps := []string{}
		if base, err := meta.expand(r.df, firstWord(s.From)); err == nil {
			deps = append(deps, base)
		}
		for _, c := range s.Commands {
			if c.Name == "copy" {
				if from, ok := c.flag("from"); ok {
					deps = append(deps, from)
				}
			}
			deps = append(deps, mountFroms(c)...)
		}
		for _, d := range deps {
			if j, ok := r.stageIndex(d, i); ok {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		state[i] = 2
		order = append(order, i)
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	return order, nil
}

func (r *buildRun) stageLabel(i int) string {
	if n := r.df.Stages[i].Name; n != "" {
		return n
	}
	return fmt.Sprint(i)
}

// stageIndex finds a stage named (or numbered) ref that comes before stage
// before.
func (r *buildRun) stageIndex(ref string, before int) (int, bool) {
	ref = strings.ToLower(ref)
	for _, s := range r.df.Stages[:before] {
		if s.Name == ref || fmt.Sprint(s.Index) == ref {
			return s.Index, true
		}
	}
	return 0, false
}

func firstWord(c *Command) string {
	w := nodeWords(c.Node)
	if len(w) == 0 {
		return ""
	}
	return w[0]
}

// printStep writes Docker's "Step N/M : INSTRUCTION" line.
func (r *buildRun) printStep(st *stageState, c *Command) {
	fmt.Fprintf(st.out, "Step %d/%d : %s\n", st.stepNo, r.steps, c.Original)
	st.stepNo++
}

func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}

func now() *time.Time {
	t := time.Now().UTC()
	return &t
}
