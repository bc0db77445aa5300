package daemon_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// stats shows a bridge container's network I/O: 2 MB fetched through its
// published port are in its eth0's transmitted bytes, in the API's
// networks and in the CLI's NET I/O column.
func TestStatsNetworkIO(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	d.MustDocker("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
		"mkdir /www && head -c 2000000 /dev/zero > /www/f && exec httpd -f -p 80 -h /www")
	port := strings.TrimSpace(d.MustDocker("port", "web", "80"))
	if n := len(httpGet(t, "http://"+port+"/f")); n != 2000000 {
		t.Fatalf("the file: %d bytes", n)
	}
	var s struct {
		Networks map[string]struct {
			RxBytes uint64 `json:"rx_bytes"`
			TxBytes uint64 `json:"tx_bytes"`
		} `json:"networks"`
	}
	// Docker's CLI: "received / sent" in SI units.
	out := strings.TrimSpace(d.MustDocker("stats", "--no-stream", "--format", "{{.NetIO}}", "web"))
	if _, sent, _ := strings.Cut(out, " / "); !strings.HasPrefix(sent, "2") || !strings.HasSuffix(sent, "MB") {
		t.Errorf("NET I/O: %q", out)
	}
	if err := json.Unmarshal([]byte(apiStats(t, d, "web")), &s); err != nil {
		t.Fatal(err)
	}
	eth0, ok := s.Networks["eth0"]
	if !ok || eth0.TxBytes < 2000000 || eth0.RxBytes == 0 {
		t.Errorf("networks in the API: %+v", s.Networks)
	}
	if _, ok := s.Networks["lo"]; ok {
		t.Errorf("lo is counted: %+v", s.Networks)
	}
}

// apiStats is GET /containers/{name}/stats?stream=false.
func apiStats(t *testing.T, d *fixture.Daemon, name string) string {
	t.Helper()
	resp, err := d.HTTPClient().Get("http://gantry/containers/" + name + "/stats?stream=false")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
