// Package docs holds the user guide; its test keeps the guide's quick start
// true by running it.
package docs

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// quickStartBlocks are the ```sh blocks of the guide's "Quick start"
// section, in order.
func quickStartBlocks(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("guide.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var cur []string
	inSection, inBlock := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inSection = line == "## Quick start"
		case inSection && !inBlock && line == "```sh":
			inBlock, cur = true, nil
		case inSection && inBlock && line == "```":
			inBlock = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case inBlock:
			cur = append(cur, line)
		}
	}
	if len(blocks) == 0 {
		t.Fatal("the guide has no quick start blocks")
	}
	return blocks
}

// TestQuickStart runs every command of the guide's quick start, as written,
// against a daemon of its own, from the top of the repository.
func TestQuickStart(t *testing.T) {
	d := fixture.NewDaemon(t)
	// `gantry` on the PATH is the binary under test.
	bin := t.TempDir()
	if err := os.Symlink(d.Bin, filepath.Join(bin, "gantry")); err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// What a failed block left running.
		d.Gantry("rm", "-f", "web")
	})
	for i, block := range quickStartBlocks(t) {
		cmd := exec.Command("bash", "-euxo", "pipefail", "-c", block)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "GANTRY_HOST="+d.Host, "DOCKER_HOST="+d.Host,
			"DOCKER_CONFIG="+filepath.Join(d.DataRoot, "docker-config"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("quick start block %d failed: %v\n%s\n--- output:\n%s", i+1, err, block, out)
		}
		t.Logf("block %d:\n%s", i+1, out)
	}
}
