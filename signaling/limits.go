package signaling

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Close reasons of the handler's own limits (code 4490).
const (
	ReasonTooManySockets     = "TOO-MANY-CONNECTIONS"
	ReasonConnectRateLimited = "CONNECT-RATE-LIMITED"
	ReasonMessageRateLimited = "MESSAGE-RATE-LIMITED"
)

// Defaults of the handler's limits.
const (
	// DefaultMaxSockets bounds the signaling WebSockets open at once.
	DefaultMaxSockets = 10000
	// DefaultMessageRate and DefaultMessageBurst bound the messages one
	// client sends on its WebSocket: far above what a client needs (a
	// pong every ping interval, candidates and answers in bursts).
	DefaultMessageRate  = 50
	DefaultMessageBurst = 200
)

// WithMaxSockets bounds the WebSockets open at once (default
// DefaultMaxSockets; 0 or less: no bound). One more is closed with 4490
// TOO-MANY-CONNECTIONS right after the upgrade.
func WithMaxSockets(n int) Option { return func(h *Handler) { h.limits.maxSockets = int64(n) } }

// WithConnectRate bounds how often one IP address may open a signaling
// WebSocket: perSecond on average, burst at once (default: no bound; a
// load generator or a NAT puts many clients behind one address). One over
// it is closed with 4490 CONNECT-RATE-LIMITED.
func WithConnectRate(perSecond float64, burst int) Option {
	return func(h *Handler) {
		h.limits.perAddr = nil
		if perSecond > 0 && burst > 0 {
			h.limits.perAddr = &addrLimiter{every: rate.Limit(perSecond), burst: burst, m: map[netip.Addr]*addrEntry{}}
		}
	}
}

// WithMessageRate bounds the messages one client may send on its
// WebSocket: perSecond on average, burst at once (default
// DefaultMessageRate, DefaultMessageBurst; 0: no bound). A client over it
// is closed with 4490 MESSAGE-RATE-LIMITED.
func WithMessageRate(perSecond float64, burst int) Option {
	return func(h *Handler) { h.limits.msgRate, h.limits.msgBurst = rate.Limit(perSecond), burst }
}

// Stats counts what the handler's limits refused.
type Stats struct {
	OpenSockets         int64  // WebSockets open now
	RejectedSockets     uint64 // over WithMaxSockets
	RejectedConnectRate uint64 // over WithConnectRate
	ClosedMessageRate   uint64 // closed for WithMessageRate
}

// Stats returns the handler's limit counters.
func (h *Handler) Stats() Stats {
	l := &h.limits
	return Stats{OpenSockets: l.open.Load(), RejectedSockets: l.rejectedSockets.Load(),
		RejectedConnectRate: l.rejectedRate.Load(), ClosedMessageRate: l.closedMsgRate.Load()}
}

// limits is the handler's admission state.
type limits struct {
	maxSockets      int64
	open            atomic.Int64
	perAddr         *addrLimiter
	msgRate         rate.Limit
	msgBurst        int
	rejectedSockets atomic.Uint64
	rejectedRate    atomic.Uint64
	closedMsgRate   atomic.Uint64
}

func defaultLimits() limits {
	return limits{maxSockets: DefaultMaxSockets, msgRate: DefaultMessageRate, msgBurst: DefaultMessageBurst}
}

// admit takes a socket slot for a client at remoteAddr, or returns the
// reason it is refused. release gives the slot back.
func (l *limits) admit(remoteAddr string) (reason string) {
	if l.perAddr != nil && !l.perAddr.allow(remoteAddr, time.Now()) {
		l.rejectedRate.Add(1)
		return ReasonConnectRateLimited
	}
	if n := l.open.Add(1); l.maxSockets > 0 && n > l.maxSockets {
		l.open.Add(-1)
		l.rejectedSockets.Add(1)
		return ReasonTooManySockets
	}
	return ""
}

func (l *limits) release() { l.open.Add(-1) }

// messageLimiter returns a client's message limiter, nil for no bound.
func (l *limits) messageLimiter() *rate.Limiter {
	if l.msgRate <= 0 || l.msgBurst <= 0 {
		return nil
	}
	return rate.NewLimiter(l.msgRate, l.msgBurst)
}

// addrLimiter is a token bucket per IP address. Its table is bounded:
// addresses idle for addrIdle are swept out when it is full, and while it
// is still full new addresses are refused.
type addrLimiter struct {
	every rate.Limit
	burst int
	mu    sync.Mutex
	m     map[netip.Addr]*addrEntry
}

type addrEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	maxTrackedAddrs = 1 << 16
	addrIdle        = time.Minute
)

func (a *addrLimiter) allow(remoteAddr string, now time.Time) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return true // not an IP (a Unix socket, a test): nothing to key on
	}
	ip = ip.Unmap().WithZone("")
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.m[ip]
	if e == nil {
		if len(a.m) >= maxTrackedAddrs {
			for k, v := range a.m {
				if now.Sub(v.seen) > addrIdle {
					delete(a.m, k)
				}
			}
			if len(a.m) >= maxTrackedAddrs {
				return false
			}
		}
		e = &addrEntry{lim: rate.NewLimiter(a.every, a.burst)}
		a.m[ip] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}
