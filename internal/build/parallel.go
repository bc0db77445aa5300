package build

import (
	"bytes"
	"context"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"
)

// stageDeps lists, for each stage to build, the earlier stages it needs
// (its FROM and its COPY --from).
func (r *buildRun) stageDeps(order []int, meta *argScope) map[int][]int {
	deps := map[int][]int{}
	for _, i := range order {
		s := r.df.Stages[i]
		var refs []string
		if base, err := meta.expand(r.df, firstWord(s.From)); err == nil {
			refs = append(refs, base)
		}
		for _, c := range s.Commands {
			if c.Name == "copy" {
				if from, ok := c.flag("from"); ok {
					if x, err := meta.expand(r.df, from); err == nil {
						refs = append(refs, x)
					}
				}
			}
			for _, from := range mountFroms(c) {
				if x, err := meta.expand(r.df, from); err == nil {
					refs = append(refs, x)
				}
			}
		}
		for _, ref := range refs {
			if j, ok := r.stageIndex(ref, i); ok {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return deps
}

// runStages builds the stages, each as soon as the stages it needs are
// done: independent stages run at the same time. Their progress comes out
// in the order of the Dockerfile, each stage's text whole.
func (r *buildRun) runStages(ctx context.Context, order []int, first map[int]int, target int, meta *argScope) error {
	out := &orderedOutput{out: r.out, seq: order, bufs: map[int]*bytes.Buffer{}, fin: map[int]bool{}}
	finished := map[int]chan struct{}{}
	for _, i := range order {
		finished[i] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, i := range order {
		g.Go(func() error {
			for _, d := range r.deps[i] {
				select {
				case <-finished[d]:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			st, err := r.runStage(gctx, r.df.Stages[i], meta, i == target, out.writer(i), first[i])
			if err != nil {
				out.flushAll()
				return err
			}
			r.mu.Lock()
			r.done[i] = st
			r.mu.Unlock()
			out.finish(i)
			close(finished[i])
			return nil
		})
	}
	err := g.Wait()
	out.flushAll()
	return err
}

// orderedOutput lets the stage whose turn it is write through and buffers
// the others until then.
type orderedOutput struct {
	mu   sync.Mutex
	out  io.Writer
	seq  []int
	pos  int
	bufs map[int]*bytes.Buffer
	fin  map[int]bool
}

type stageWriter struct {
	o *orderedOutput
	i int
}

func (o *orderedOutput) writer(i int) io.Writer { return &stageWriter{o: o, i: i} }

func (w *stageWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pos < len(o.seq) && o.seq[o.pos] == w.i {
		return o.out.Write(p)
	}
	b := o.bufs[w.i]
	if b == nil {
		b = &bytes.Buffer{}
		o.bufs[w.i] = b
	}
	return b.Write(p)
}

// finish marks stage i done and lets the next stages' text out.
func (o *orderedOutput) finish(i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fin[i] = true
	for o.pos < len(o.seq) && o.fin[o.seq[o.pos]] {
		o.pos++
		if o.pos < len(o.seq) {
			if b := o.bufs[o.seq[o.pos]]; b != nil {
				_, _ = o.out.Write(b.Bytes())
				b.Reset()
			}
		}
	}
}

// flushAll writes whatever is buffered, in order (a failed build shows
// every stage's output).
func (o *orderedOutput) flushAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, i := range o.seq[min(o.pos, len(o.seq)):] {
		if b := o.bufs[i]; b != nil {
			_, _ = o.out.Write(b.Bytes())
			b.Reset()
		}
	}
}
