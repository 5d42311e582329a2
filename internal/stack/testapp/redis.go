package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// serveRedis answers /redis/<key>: it reads the key, or with ?set=<value>
// writes it, through the first database variable the
// provider set whose _URL is a redis:// URL (idp_application.databases).
// It proves the pods got a working connection, password included.
func serveRedis(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/redis/")
	var u *url.URL
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(name, "_URL") && strings.HasPrefix(val, "redis://") {
			u, _ = url.Parse(val)
			break
		}
	}
	if u == nil {
		http.Error(w, "no redis database in the environment", http.StatusInternalServerError)
		return
	}
	pw, _ := u.User.Password()
	cmds := [][]string{{"AUTH", pw}}
	if q := r.URL.Query(); q.Has("set") {
		cmds = append(cmds, []string{"SET", key, q.Get("set")})
	} else {
		cmds = append(cmds, []string{"GET", key})
	}
	reply, err := redisDo(u.Host, cmds)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	_, _ = fmt.Fprint(w, reply)
}

// redisDo sends commands in RESP and returns the last reply (a simple or
// bulk string); any error reply fails.
func redisDo(addr string, cmds [][]string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	in := bufio.NewReader(conn)
	var last string
	for _, c := range cmds {
		fmt.Fprintf(conn, "*%d\r\n", len(c))
		for _, a := range c {
			fmt.Fprintf(conn, "$%d\r\n%s\r\n", len(a), a)
		}
		line, err := in.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "-"):
			return "", fmt.Errorf("redis %s: %s", c[0], line[1:])
		case strings.HasPrefix(line, "$-1"):
			last = ""
		case strings.HasPrefix(line, "$"):
			var n int
			_, _ = fmt.Sscanf(line, "$%d", &n)
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(in, buf); err != nil {
				return "", err
			}
			last = string(buf[:n])
		default:
			last = line[1:]
		}
	}
	return last, nil
}
