package client

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// HijackedResponse is a connection the daemon upgraded to a raw stream
// (attach, exec start). Read from Reader, which holds what came with the
// upgrade's response; write to Conn.
type HijackedResponse struct {
	Conn      net.Conn
	Reader    *bufio.Reader
	mediaType string
}

// Close closes the connection.
func (h *HijackedResponse) Close() { _ = h.Conn.Close() }

// CloseWrite half-closes the connection when it can: the end of input.
func (h *HijackedResponse) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// MediaType is the stream's content type, when the daemon gave one.
func (h *HijackedResponse) MediaType() (string, bool) {
	return h.mediaType, h.mediaType != ""
}

// postHijacked sends a POST asking for "Upgrade: tcp" on a connection of
// its own and hands the connection over after the daemon's 101.
func (c *Client) postHijacked(ctx context.Context, p string, query url.Values, header http.Header, body any) (HijackedResponse, error) {
	r, _, err := jsonBody(body, nil)
	if err != nil {
		return HijackedResponse{}, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.apiPath(ctx, p, query), header, r)
	if err != nil {
		return HijackedResponse{}, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx, c.proto, c.addr)
	if err != nil {
		return HijackedResponse{}, fmt.Errorf("cannot connect to the Docker daemon. Is 'docker daemon' running on this host?: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	mediaType, br, err := upgrade(ctx, conn, req)
	if err != nil {
		_ = conn.Close()
		return HijackedResponse{}, err
	}
	return HijackedResponse{Conn: conn, Reader: br, mediaType: mediaType}, nil
}

// upgrade writes req on conn and reads the response; ctx ending meanwhile
// closes conn. The reader keeps what the daemon sent after the response.
func upgrade(ctx context.Context, conn net.Conn, req *http.Request) (string, *bufio.Reader, error) {
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.Close()
		close(cancelled)
	})
	mediaType, br, err := func() (string, *bufio.Reader, error) {
		if err := req.Write(conn); err != nil {
			return "", nil, err
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return "", nil, err
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			_ = resp.Body.Close()
			return "", nil, fmt.Errorf("unable to upgrade to tcp, received %d", resp.StatusCode)
		}
		return resp.Header.Get("Content-Type"), br, nil
	}()
	if !stop() {
		<-cancelled
		return "", nil, ctx.Err()
	}
	return mediaType, br, err
}
