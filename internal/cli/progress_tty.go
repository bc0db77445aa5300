package cli

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// buildProgress shows a build's progress text (the daemon's "Step N/M"
// lines, " ---> ..." results and the steps' output).
type buildProgress interface {
	Write(text string)
	// Close ends the display; failed keeps the failing step's output.
	Close(failed bool)
}

// plainProgress is the text as the daemon sends it (--progress=plain, and
// auto when the output is no terminal).
type plainProgress struct{ w io.Writer }

func (p plainProgress) Write(text string) { fmt.Fprint(p.w, text) }
func (p plainProgress) Close(bool)        {}

func newBuildProgress(mode string, w io.Writer) buildProgress {
	if mode == "tty" || (mode == "auto" || mode == "") && isTerminal(w) {
		return newTTYProgress(w)
	}
	return plainProgress{w}
}

// ttyStep is one step on the TTY display.
type ttyStep struct {
	title  string
	cached bool
	note   string // why the cache missed
	start  time.Time
	end    time.Time
	output []string
	done   bool
}

// ttyProgress draws BuildKit's kind of display: a header with the time
// spent, each step with its duration, the running step's last lines of
// output under it, collapsed when the step ends. The frame is redrawn in
// place (cursor up, clear) at most ten times a second.
type ttyProgress struct {
	mu      sync.Mutex
	w       io.Writer
	start   time.Time
	steps   []*ttyStep
	total   int
	partial string
	lines   int // lines of the last frame, to draw over
	tail    []string
	stop    chan struct{}
	stopped chan struct{}
	dirty   bool
	stepRe  *regexp.Regexp
	width   int // of the terminal: longer lines are cut, so that redraws count right
}

// ttyOutputLines is how many lines of a running step's output show.
const ttyOutputLines = 6

func newTTYProgress(w io.Writer) *ttyProgress {
	p := &ttyProgress{
		w: w, start: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{}),
		stepRe: regexp.MustCompile(`^Step (\d+)/(\d+) : (.*)$`),
	}
	if f, ok := w.(*os.File); ok {
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil {
			p.width = wd
		}
	}
	go p.tick()
	return p
}

func (p *ttyProgress) tick() {
	defer close(p.stopped)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw(false)
			p.mu.Unlock()
		}
	}
}

func (p *ttyProgress) Write(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	text = p.partial + text
	lines := strings.Split(text, "\n")
	p.partial = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		p.line(l)
	}
	p.dirty = true
}

func (p *ttyProgress) current() *ttyStep {
	if len(p.steps) == 0 {
		return nil
	}
	return p.steps[len(p.steps)-1]
}

func (p *ttyProgress) finishCurrent() {
	if s := p.current(); s != nil && !s.done {
		s.done = true
		s.end = time.Now()
	}
}

func (p *ttyProgress) line(l string) {
	if m := p.stepRe.FindStringSubmatch(l); m != nil {
		p.finishCurrent()
		fmt.Sscan(m[2], &p.total)
		p.steps = append(p.steps, &ttyStep{title: fmt.Sprintf("[%s/%s] %s", m[1], m[2], m[3]), start: time.Now()})
		return
	}
	s := p.current()
	switch {
	case strings.HasPrefix(l, " ---> CACHED") && s != nil:
		s.cached = true
		p.finishCurrent()
	case strings.HasPrefix(l, " ---> cache miss: ") && s != nil:
		s.note = strings.TrimPrefix(l, " ---> ")
	case strings.HasPrefix(l, " ---> ") && s != nil:
		// The step's result: it is done.
		p.finishCurrent()
	case strings.HasPrefix(l, "Successfully "), strings.HasPrefix(l, "[Warning]"):
		p.finishCurrent()
		p.tail = append(p.tail, l)
	case s != nil:
		s.output = append(s.output, l)
		if len(s.output) > 200 {
			s.output = s.output[len(s.output)-200:]
		}
	default:
		p.tail = append(p.tail, l)
	}
}

func (p *ttyProgress) Close(failed bool) {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.partial != "" {
		p.line(p.partial)
		p.partial = ""
	}
	if !failed {
		p.finishCurrent()
	}
	p.dirty = true
	p.draw(true)
}

// draw writes the frame over the last one.
func (p *ttyProgress) draw(final bool) {
	if !p.dirty && !final && (len(p.steps) == 0 || p.current().done) {
		return
	}
	p.dirty = false
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines)
	}
	done := 0
	for _, s := range p.steps {
		if s.done {
			done++
		}
	}
	state := ""
	if final {
		state = " FINISHED"
	}
	n := 0
	writeLine := func(s string) {
		b.WriteString("\x1b[2K")
		if r := []rune(s); p.width > 0 && len(r) > p.width-1 {
			s = string(r[:p.width-1])
		}
		b.WriteString(s)
		b.WriteString("\n")
		n++
	}
	writeLine(fmt.Sprintf("[+] Building %.1fs (%d/%d)%s", time.Since(p.start).Seconds(), done, max(p.total, len(p.steps)), state))
	for _, s := range p.steps {
		title := " => " + s.title
		if s.cached {
			title = " => CACHED " + s.title
		}
		if s.note != "" && !s.cached {
			title += "  (" + s.note + ")"
		}
		end := s.end
		if !s.done {
			end = time.Now()
		}
		writeLine(fmt.Sprintf("%-70s %5.1fs", title, end.Sub(s.start).Seconds()))
		// A running step shows its last lines; a finished one collapses,
		// but a failed step keeps them in the final frame.
		if !s.done && len(s.output) > 0 {
			out := s.output
			if len(out) > ttyOutputLines && !final {
				out = out[len(out)-ttyOutputLines:]
			}
			for _, o := range out {
				writeLine(" => => # " + o)
			}
		}
	}
	if final {
		for _, t := range p.tail {
			writeLine(t)
		}
	}
	// Clear what is left of a longer previous frame.
	for i := n; i < p.lines; i++ {
		b.WriteString("\x1b[2K\n")
	}
	if p.lines > n {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines-n)
	}
	p.lines = n
	_, _ = io.WriteString(p.w, b.String())
}
