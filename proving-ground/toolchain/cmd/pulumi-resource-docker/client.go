package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// engine is a small Docker Engine API client: plain HTTP over the unix socket or TCP.
// Paths are unversioned, so the daemon answers with its own API version.
type engine struct {
	http *http.Client
	base string // http://docker or http://host:port
}

func newEngine(host string, sshOpts []string) (*engine, error) {
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}
		return &engine{http: &http.Client{Transport: tr}, base: "http://docker"}, nil
	case "tcp", "http":
		return &engine{http: &http.Client{}, base: "http://" + u.Host}, nil
	case "ssh":
		// As upstream (the docker CLI's connhelper): each connection is
		// `ssh -l USER -p PORT <sshOpts> [-o ConnectTimeout=30] -T -- HOST 'docker system dial-stdio'`.
		var args []string
		if u.User != nil && u.User.Username() != "" {
			args = append(args, "-l", u.User.Username())
		}
		if u.Port() != "" {
			args = append(args, "-p", u.Port())
		}
		args = append(args, sshOpts...)
		if !strings.Contains(strings.Join(sshOpts, ""), "ConnectTimeout") {
			args = append(args, "-o ConnectTimeout=30")
		}
		if !slices.Contains(sshOpts, "-T") {
			args = append(args, "-T")
		}
		args = append(args, "--", u.Hostname(), "docker system dial-stdio")
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return newCommandConn("ssh", args...)
			},
			IdleConnTimeout: 30 * time.Second,
		}
		return &engine{http: &http.Client{Transport: tr}, base: "http://docker"}, nil
	default:
		return nil, fmt.Errorf("docker host %q: only unix://, tcp:// and ssh:// hosts are supported by this "+
			"build of the docker provider", host)
	}
}

// commandConn is a net.Conn over a command's stdin/stdout (ssh ... docker system dial-stdio).
type commandConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *bytes.Buffer
	once   sync.Once
}

func newCommandConn(name string, args ...string) (net.Conn, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &commandConn{cmd: cmd, stdin: stdin, stdout: stdout, stderr: &stderr}, nil
}

func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err == io.EOF && c.stderr.Len() > 0 {
		return n, fmt.Errorf("%s: %s", c.cmd.Path, strings.TrimSpace(c.stderr.String()))
	}
	return n, err
}
func (c *commandConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }
func (c *commandConn) Close() error {
	c.once.Do(func() {
		_ = c.stdin.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	return nil
}
func (c *commandConn) LocalAddr() net.Addr              { return dummyAddr{} }
func (c *commandConn) RemoteAddr() net.Addr             { return dummyAddr{} }
func (c *commandConn) SetDeadline(time.Time) error      { return nil }
func (c *commandConn) SetReadDeadline(time.Time) error  { return nil }
func (c *commandConn) SetWriteDeadline(time.Time) error { return nil }

type dummyAddr struct{}

func (dummyAddr) Network() string { return "command" }
func (dummyAddr) String() string  { return "command" }

// apiError is a non-2xx answer of the engine.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("docker engine: %s (HTTP %d)", e.message, e.status)
}

func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusNotFound
}

func (e *engine) do(
	ctx context.Context, method, path string, query url.Values, body io.Reader, headers map[string]string,
) (*http.Response, error) {
	u := e.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker engine at %s: %w", e.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var m struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &m) == nil && m.Message != "" {
			msg = m.Message
		}
		return nil, &apiError{status: resp.StatusCode, message: fmt.Sprintf("%s %s: %s", method, path, msg)}
	}
	return resp, nil
}

// call sends a JSON body (if in != nil) and decodes a JSON answer (if out != nil).
func (e *engine) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	resp, err := e.do(ctx, method, path, query, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// jsonMessage is one line of the engine's progress streams (pull, push, build).
type jsonMessage struct {
	Stream      string                    `json:"stream"`
	Status      string                    `json:"status"`
	ID          string                    `json:"id"`
	Error       string                    `json:"error"`
	ErrorDetail *struct{ Message string } `json:"errorDetail"`
	Aux         json.RawMessage           `json:"aux"`
}

// stream reads a progress stream; log gets the human-readable lines; aux every aux payload.
func readStream(r io.Reader, log func(string), aux func(json.RawMessage)) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m jsonMessage
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("reading docker engine progress: %w", err)
		}
		if m.Error != "" || m.ErrorDetail != nil {
			msg := m.Error
			if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
				msg = m.ErrorDetail.Message
			}
			return errors.New(msg)
		}
		if len(m.Aux) > 0 && aux != nil {
			aux(m.Aux)
		}
		if log != nil {
			switch {
			case m.Stream != "":
				for _, line := range strings.Split(strings.TrimRight(m.Stream, "\n"), "\n") {
					if strings.TrimSpace(line) != "" {
						log(line)
					}
				}
			case m.Status != "" && m.ID != "":
				log(m.ID + ": " + m.Status)
			case m.Status != "":
				log(m.Status)
			}
		}
	}
}

// ---- registry auth ------------------------------------------------------------------------

type authConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	ServerAddress string `json:"serveraddress,omitempty"`
}

func encodeAuth(a *authConfig) string {
	if a == nil {
		a = &authConfig{}
	}
	data, _ := json.Marshal(a)
	return base64.URLEncoding.EncodeToString(data)
}

// normalizeRegistry turns "https://index.docker.io/v1/", "docker.io", ... into one key.
func normalizeRegistry(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	s = strings.TrimPrefix(s, "https://")
	s = strings.TrimPrefix(s, "http://")
	if i := strings.Index(s, "/"); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return s
}

// splitReference splits an image reference into registry, repository (with registry) and
// tag or digest ("" when absent).
func splitReference(ref string) (registry, repo, tag, digest string) {
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		digest = name[i+1:]
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i:], "/") {
		tag = name[i+1:]
		name = name[:i]
	}
	repo = name
	first := name
	if i := strings.Index(name, "/"); i >= 0 {
		first = name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			return first, repo, tag, digest
		}
	}
	return "docker.io", repo, tag, digest
}

// waitFor polls check every interval until it returns true, an error, or the timeout passes.
func waitFor(ctx context.Context, timeout, interval time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := check()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
