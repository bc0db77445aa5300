package daemon_test

import (
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/gantry-dev/gantry/internal/fixture"
)

// A port that served connections a moment ago (its side of them in
// TIME_WAIT for a minute) can be published again at once, as with Docker;
// a port another process listens on cannot.
func TestPublishPortAfterTimeWait(t *testing.T) {
	d := fixture.NewDaemon(t)
	d.Busybox()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("bye"))
			c.Close() // the server closes first: its end waits in TIME_WAIT
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(c)
	<-done
	c.Close()
	l.Close()

	p := strconv.Itoa(port)
	if res := d.Gantry("run", "-d", "--name", "again", "-p", p+":80", "busybox", "httpd", "-f", "-p", "80"); res.Code != 0 {
		t.Fatalf("publishing %s after its connections ended: %d %s", p, res.Code, res.Stderr)
	}
	d.MustGantry("rm", "-f", "again")

	busy, err := net.Listen("tcp", "127.0.0.1:"+p)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if res := d.Gantry("run", "-d", "--name", "taken", "-p", p+":80", "busybox", "httpd", "-f", "-p", "80"); res.Code == 0 {
		t.Errorf("published %s while another process listens on 127.0.0.1:%s", p, p)
	}
}
