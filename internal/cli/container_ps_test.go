package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

var psNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func psFixture() []container.Summary {
	return []container.Summary{
		{
			ID: "3f4e8a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab", Names: []string{"/web"},
			Image: "docker.io/library/busybox:latest", ImageID: "sha256:aaaaaaaaaaaa1111", Command: "sleep 600",
			Created: psNow.Add(-5 * time.Second).Unix(), State: container.StateRunning, Status: "Up 3 seconds",
			Labels: map[string]string{"b": "2", "a": "1"},
			Ports: []container.PortSummary{
				{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
				{PrivatePort: 443, Type: "tcp"},
			},
			SizeRw: 1234, SizeRootFs: 4_400_000,
		},
		{
			ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Names: []string{"/done"},
			Image: "busybox", ImageID: "sha256:bbbb", Command: "sh -c 'echo a very long command line'",
			Created: psNow.Add(-2 * time.Hour).Unix(), State: container.StateExited, Status: "Exited (0) 5 seconds ago",
		},
		{
			ID: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", Names: []string{"/paused"},
			Image: "sha256:cccccccccccc0000", ImageID: "sha256:cccccccccccc0000", Command: "top",
			Created: psNow.Add(-3 * 24 * time.Hour).Unix(), State: container.StatePaused, Status: "Up 2 seconds (Paused)",
		},
	}
}

func TestPsTable(t *testing.T) {
	var out bytes.Buffer
	if err := writeContainers(&out, psFixture(), psFormat("", false, false), true, psNow); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"CONTAINER ID   IMAGE            COMMAND                  CREATED         STATUS                     PORTS                           NAMES\n" +
		"3f4e8a1b2c3d   busybox:latest   \"sleep 600\"              5 seconds ago   Up 3 seconds               443/tcp, 0.0.0.0:8080->80/tcp   web\n" +
		"0123456789ab   busybox          \"sh -c 'echo a very …\"   2 hours ago     Exited (0) 5 seconds ago                                   done\n" +
		"fedcba987654   cccccccccccc     \"top\"                    3 days ago      Up 2 seconds (Paused)                                      paused\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestPsSizeAndNoTrunc(t *testing.T) {
	var out bytes.Buffer
	list := psFixture()[:1]
	if err := writeContainers(&out, list, psFormat("table {{.ID}}\t{{.Command}}\t{{.Size}}", false, true), false, psNow); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"CONTAINER ID                                                       COMMAND       SIZE\n" +
		"3f4e8a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab   \"sleep 600\"   1.23kB (virtual 4.4MB)\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	// The default table gains SIZE with -s.
	if f := psFormat("", false, true); !strings.HasSuffix(string(f), `\t{{.Size}}`) {
		t.Errorf("default format with size: %s", f)
	}
}

func TestPsQuietAndTemplates(t *testing.T) {
	list := psFixture()
	for _, tt := range []struct {
		format string
		quiet  bool
		want   string
	}{
		{"", true, "3f4e8a1b2c3d\n0123456789ab\nfedcba987654\n"},
		{"{{.Names}} {{.State}}", true, "3f4e8a1b2c3d\n0123456789ab\nfedcba987654\n"},
		{"{{.Names}}: {{.Labels}} {{.Label \"a\"}}", false, "web: a=1,b=2 1\ndone:  \npaused:  \n"},
		{"table {{.Names}}\t{{.Label \"com.example.team\"}}", false, "NAMES     team\nweb       \ndone      \npaused    \n"},
		{"{{upper .Names}} {{json .State}} {{truncate .ID 4}}", false, "WEB \"running\" 3f4e\nDONE \"exited\" 0123\nPAUSED \"paused\" fedc\n"},
	} {
		var out bytes.Buffer
		if err := writeContainers(&out, list, psFormat(tt.format, tt.quiet, false), true, psNow); err != nil {
			t.Fatalf("%q: %v", tt.format, err)
		}
		if out.String() != tt.want {
			t.Errorf("format %q quiet %v:\n got %q\nwant %q", tt.format, tt.quiet, out.String(), tt.want)
		}
	}
}

func TestPsJSON(t *testing.T) {
	var out bytes.Buffer
	if err := writeContainers(&out, psFixture()[:1], psFormat("json", false, false), true, psNow); err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	if err := json.Unmarshal(out.Bytes(), &row); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for k, want := range map[string]any{
		"ID": "3f4e8a1b2c3d", "Names": "web", "Image": "busybox:latest", "Command": `"sleep 600"`,
		"RunningFor": "5 seconds ago", "Status": "Up 3 seconds", "State": "running", "Labels": "a=1,b=2",
		"Ports": "443/tcp, 0.0.0.0:8080->80/tcp", "LocalVolumes": "0", "Size": "1.23kB (virtual 4.4MB)",
	} {
		if row[k] != want {
			t.Errorf("%s = %#v, want %#v", k, row[k], want)
		}
	}
}

func TestPsSizeRequestedByFormat(t *testing.T) {
	for _, tt := range []struct {
		o           psOptions
		sizeChanged bool
		want        bool
	}{
		{psOptions{format: "{{.ID}} {{.Size}}"}, false, true},
		{psOptions{format: "{{.ID}}"}, false, false},
		{psOptions{format: "{{.ID}} {{.Size}}", quiet: true}, false, false},
		{psOptions{format: "{{.ID}} {{.Size}}"}, true, false}, // --size=false given
		{psOptions{size: true}, true, true},
	} {
		tt.o.last = -1
		lo, err := tt.o.listOptions(tt.sizeChanged)
		if err != nil {
			t.Fatal(err)
		}
		if lo.Size != tt.want {
			t.Errorf("%+v: Size = %v, want %v", tt.o, lo.Size, tt.want)
		}
	}
	o := psOptions{latest: true, last: -1}
	if lo, _ := o.listOptions(false); lo.Limit != 1 {
		t.Errorf("-l: limit %d", lo.Limit)
	}
	o = psOptions{format: "{{.Nope"}
	if _, err := o.listOptions(false); err == nil || !strings.HasPrefix(err.Error(), "failed to parse template: ") {
		t.Errorf("bad template: %v", err)
	}
}

func TestDisplayPorts(t *testing.T) {
	any4 := netip.MustParseAddr("0.0.0.0")
	any6 := netip.MustParseAddr("::")
	for _, tt := range []struct {
		ports []container.PortSummary
		want  string
	}{
		{nil, ""},
		{[]container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{[]container.PortSummary{{IP: any4, PrivatePort: 80, PublicPort: 80, Type: "tcp"}}, "0.0.0.0:80->80/tcp"},
		{[]container.PortSummary{{IP: any4, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {IP: any6, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}},
			"0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"},
		{[]container.PortSummary{
			{IP: any4, PrivatePort: 8000, PublicPort: 8000, Type: "tcp"}, {IP: any4, PrivatePort: 8001, PublicPort: 8001, Type: "tcp"},
			{PrivatePort: 53, Type: "udp"}, {PrivatePort: 54, Type: "udp"}, {PrivatePort: 60, Type: "udp"},
		}, "53-54/udp, 60/udp, 0.0.0.0:8000-8001->8000-8001/tcp"},
	} {
		if got := displayPorts(tt.ports); got != tt.want {
			t.Errorf("displayPorts(%v) = %q, want %q", tt.ports, got, tt.want)
		}
	}
}

func TestPsImageAndCommand(t *testing.T) {
	for _, tt := range []struct{ image, imageID, want string }{
		{"busybox", "sha256:1", "busybox"},
		{"busybox:latest", "sha256:1", "busybox:latest"},
		{"docker.io/library/busybox:1.36", "sha256:1", "busybox:1.36"},
		{"localhost:5000/app:v1@sha256:" + strings.Repeat("a", 64), "sha256:1", "localhost:5000/app:v1"},
		{"busybox@sha256:" + strings.Repeat("b", 64), "sha256:1", "busybox"},
		{"sha256:" + strings.Repeat("c", 64), "sha256:" + strings.Repeat("c", 64), "cccccccccccc"},
		{"", "", "<no image>"},
	} {
		r := &psRow{c: container.Summary{Image: tt.image, ImageID: tt.imageID}, trunc: true}
		if got := r.Image(); got != tt.want {
			t.Errorf("Image(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
	r := &psRow{c: container.Summary{Command: "echo 12345678901234567890"}, trunc: true}
	if got := r.Command(); got != `"echo 12345678901234…"` {
		t.Errorf("Command = %s", got)
	}
	r = &psRow{c: container.Summary{Command: "echo 123456789012345"}, trunc: true}
	if got := r.Command(); got != `"echo 123456789012345"` {
		t.Errorf("Command = %s", got)
	}
	r = &psRow{c: container.Summary{Names: []string{"/link/alias", "/main"}}, trunc: true}
	if got := r.Names(); got != "main" {
		t.Errorf("Names = %s", got)
	}
}
