package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// redisCommand sends one inline-free RESP command and returns the reply as a
// string (simple string or bulk string). It is enough for PING and INFO.
func redisCommand(ctx context.Context, addr string, args ...string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("redis %s: empty reply", addr)
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis %s: %s", addr, line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis %s: bad bulk length %q", addr, line)
		}
		buf := make([]byte, n+2)
		if _, err := readFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis %s: unexpected reply %q", addr, line)
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func redisPing(ctx context.Context, addr string) error {
	reply, err := redisCommand(ctx, addr, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("redis %s: PING answered %q", addr, reply)
	}
	return nil
}

// RedisInfo returns the fields of Redis's INFO section (for example
// "server": run_id, process_id, uptime_in_seconds).
func RedisInfo(ctx context.Context, addr, section string) (map[string]string, error) {
	reply, err := redisCommand(ctx, addr, "INFO", section)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, l := range strings.Split(reply, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || l[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

// RedisKeyspace is the number of keys a redis server holds, and of those
// how many expire (INFO keyspace, every database).
func RedisKeyspace(ctx context.Context, addr string) (keys, expires int64, err error) {
	info, err := RedisInfo(ctx, addr, "keyspace")
	if err != nil {
		return 0, 0, err
	}
	k, e := ParseKeyspace(info)
	return k, e, nil
}

// ParseKeyspace sums keys= and expires= over INFO keyspace's db lines
// ("db0" -> "keys=100,expires=3,avg_ttl=0").
func ParseKeyspace(info map[string]string) (keys, expires int64) {
	for db, v := range info {
		if !strings.HasPrefix(db, "db") {
			continue
		}
		for _, f := range strings.Split(v, ",") {
			name, n, _ := strings.Cut(f, "=")
			x, _ := strconv.ParseInt(n, 10, 64)
			switch name {
			case "keys":
				keys += x
			case "expires":
				expires += x
			}
		}
	}
	return keys, expires
}
