package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/gantry-dev/gantry/internal/image"
)

// progressPrinter shows pull and push progress as the docker CLI does: on a
// terminal one line per layer, rewritten in place, with a bar; otherwise one
// line per status change, without the byte counts.
type progressPrinter struct {
	out   io.Writer
	tty   bool
	mu    sync.Mutex
	order []string
	lines map[string]string
}

func newProgressPrinter(out io.Writer) *progressPrinter {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressPrinter{out: out, tty: tty, lines: map[string]string{}}
}

func (p *progressPrinter) update(ev image.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.ID == "" {
		fmt.Fprintln(p.out, ev.Status)
		return
	}
	line := ev.ID + ": " + ev.Status
	if ev.Total > 0 && ev.Current > 0 && (ev.Status == "Downloading" || ev.Status == "Pushing" || ev.Status == "Extracting") {
		if !p.tty {
			return
		}
		line += " " + bar(ev.Current, ev.Total)
	}
	idx := -1
	for i, id := range p.order {
		if id == ev.ID {
			idx = i
		}
	}
	if !p.tty {
		if p.lines[ev.ID] != line {
			p.lines[ev.ID] = line
			fmt.Fprintln(p.out, line)
		}
		return
	}
	if idx < 0 {
		p.order = append(p.order, ev.ID)
		p.lines[ev.ID] = line
		fmt.Fprintln(p.out, line)
		return
	}
	up := len(p.order) - idx
	fmt.Fprintf(p.out, "\x1b[%dA\r\x1b[2K%s\x1b[%dB\r", up, line, up)
	p.lines[ev.ID] = line
}

func bar(cur, total int64) string {
	const width = 50
	n := int(float64(width) * float64(cur) / float64(total))
	if n > width {
		n = width
	}
	arrow := ""
	if n < width {
		arrow = ">"
		if n > 0 {
			n--
		}
	}
	return fmt.Sprintf("[%s%s%s] %s/%s", strings.Repeat("=", n), arrow, strings.Repeat(" ", width-n-len(arrow)),
		units.HumanSizeWithPrecision(float64(cur), 3), units.HumanSizeWithPrecision(float64(total), 3))
}
