package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// EmbeddedDNS is the address of the DNS server a container on a user
// network asks, as Docker's.
const EmbeddedDNS = "127.0.0.11"

// dnsServer answers one container's queries: names of the containers on
// its networks (name, alias, short ID), anything else forwarded to the
// host's resolvers. Its sockets are made inside the container's network
// namespace, on 127.0.0.11:53, and served from the daemon.
type dnsServer struct {
	udp, tcp *dns.Server
}

func (s *dnsServer) close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

// startDNS serves a container's queries with answer, on sockets made
// inside its namespace.
func startDNS(nsPath string, answer func(w dns.ResponseWriter, q *dns.Msg)) (*dnsServer, error) {
	pc, l, err := listenInNetns(nsPath, EmbeddedDNS+":53")
	if err != nil {
		return nil, fmt.Errorf("starting the embedded DNS server: %w", err)
	}
	h := dns.HandlerFunc(answer)
	s := &dnsServer{udp: &dns.Server{PacketConn: pc, Handler: h}, tcp: &dns.Server{Listener: l, Handler: h}}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	<-started
	<-started
	return s, nil
}

// answerFrom answers a question with a container's address on one of its
// networks, or forwards it (unless every network is --internal).
func answerFrom(w dns.ResponseWriter, q *dns.Msg, lookup func(name string) (netip.Addr, bool), upstreams []string) {
	if len(q.Question) == 1 {
		question := q.Question[0]
		name := strings.TrimSuffix(question.Name, ".")
		if ip, ok := lookup(name); ok {
			r := new(dns.Msg)
			r.SetReply(q)
			r.Authoritative = true
			if question.Qtype == dns.TypeA {
				a := ip.As4()
				r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 600}, A: net.IP(a[:])})
			}
			_ = w.WriteMsg(r)
			return
		}
	}
	forward(w, q, upstreams)
}

// forward asks the upstream resolvers in turn, from the daemon's own
// network namespace (so a resolver on the host's loopback works too).
func forward(w dns.ResponseWriter, q *dns.Msg, ups []string) {
	c := &dns.Client{Timeout: 2 * time.Second}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		c.Net = "tcp"
	}
	for _, up := range ups {
		r, _, err := c.ExchangeContext(context.Background(), q, net.JoinHostPort(up, "53"))
		if err == nil && r != nil {
			_ = w.WriteMsg(r)
			return
		}
	}
	r := new(dns.Msg)
	r.SetRcode(q, dns.RcodeServerFailure)
	_ = w.WriteMsg(r)
}

// HostResolvers are the nameservers of the host's resolv.conf.
func HostResolvers() []string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, a.String())
			}
		}
	}
	return out
}

// listenInNetns opens a UDP and a TCP socket on addr inside the network
// namespace at nsPath: the sockets stay in that namespace, served from
// here.
func listenInNetns(nsPath, addr string) (net.PacketConn, net.Listener, error) {
	type result struct {
		pc  net.PacketConn
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer orig.Close()
		ns, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		var r result
		r.pc, r.err = net.ListenPacket("udp4", addr)
		if r.err == nil {
			if r.l, r.err = net.Listen("tcp4", addr); r.err != nil {
				r.pc.Close()
			}
		}
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("returning to the daemon's network namespace: %w", err)}
			return // the thread dies locked
		}
		runtime.UnlockOSThread()
		done <- r
	}()
	r := <-done
	return r.pc, r.l, r.err
}
