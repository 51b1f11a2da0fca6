package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/stats"
)

// Defaults for NotifierConfig.
const (
	DefaultQueueSize      = 1024
	DefaultAttempts       = 4
	DefaultBackoff        = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultTimeout        = 5 * time.Second
	DefaultUpdateInterval = time.Minute
)

// NotifierConfig configures a Notifier. Only the URLs are needed; an
// empty URL sends no webhooks of that kind.
type NotifierConfig struct {
	// EventURL receives connection.created, connection.updated and
	// connection.destroyed.
	EventURL string
	// SessionURL receives session.created and session.destroyed.
	SessionURL string
	// QueueSize bounds the webhooks waiting to be sent (default 1024);
	// more are dropped and counted as ignored.
	QueueSize int
	// Attempts is how many times a webhook is tried (default 4): an
	// answer other than 2xx, or none, is retried after Backoff, doubling
	// up to MaxBackoff.
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one attempt (default 5 s).
	Timeout time.Duration
	// UpdateInterval is how often connection.updated is sent for each
	// connected connection (default 1 minute, as Sora).
	UpdateInterval time.Duration
	// Client is the HTTP client (default: one of its own).
	Client *http.Client
	// Logger receives failed deliveries (default: discard).
	Logger *slog.Logger
}

func (c NotifierConfig) withDefaults() NotifierConfig {
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UpdateInterval <= 0 {
		c.UpdateInterval = DefaultUpdateInterval
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// delivery is one webhook waiting to be sent.
type delivery struct {
	session bool // session webhook (else event)
	typ     string
	body    []byte
}

// outcomes counts one kind of webhook's deliveries.
type outcomes struct{ successful, failed, ignored atomic.Int64 }

// Notifier sends event and session webhooks for the engines it observes.
// Create it with NewNotifier, add it with Engine.AddObserver, and Close it
// after the engine.
type Notifier struct {
	cfg   NotifierConfig
	queue chan delivery

	mu     sync.Mutex
	live   map[string]sfu.LifecycleEvent // connected connections, by id: their created event
	closed bool

	events, sessions outcomes

	stop   chan struct{} // closed by Close: send what is queued, then end
	cancel context.CancelFunc
	ctx    context.Context // canceled when Close's deadline passes
	done   chan struct{}
}

// NewNotifier starts a notifier's worker.
func NewNotifier(cfg NotifierConfig) *Notifier {
	cfg = cfg.withDefaults()
	n := &Notifier{
		cfg: cfg, queue: make(chan delivery, cfg.QueueSize), live: map[string]sfu.LifecycleEvent{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
	return n
}

// Observe queues the webhook for ev, if any. It never blocks.
func (n *Notifier) Observe(ev sfu.LifecycleEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	switch ev.Kind {
	case sfu.ConnectionCreated:
		n.live[ev.Connection.ConnectionID] = ev
	case sfu.ConnectionDestroyed:
		delete(n.live, ev.Connection.ConnectionID)
		if !ev.Connected {
			return // never created: no webhook
		}
	case sfu.SessionCreated, sfu.SessionDestroyed:
	default:
		return
	}
	n.enqueueLocked(ev)
}

// enqueueLocked builds and queues ev's webhook. Called with n.mu held, so
// webhooks are queued in the order they were observed.
func (n *Notifier) enqueueLocked(ev sfu.LifecycleEvent) {
	session := ev.Kind == sfu.SessionCreated || ev.Kind == sfu.SessionDestroyed
	url := n.cfg.EventURL
	if session {
		url = n.cfg.SessionURL
	}
	if url == "" {
		return
	}
	body, err := marshalEvent(ev)
	if err != nil {
		n.cfg.Logger.Error("webhook: marshal", "type", ev.Kind.String(), "err", err)
		return
	}
	select {
	case n.queue <- delivery{session: session, typ: ev.Kind.String(), body: body}:
	default:
		n.count(session).ignored.Add(1)
		n.cfg.Logger.Warn("webhook queue full, dropped", "type", ev.Kind.String(),
			"channel_id", ev.ChannelID, "connection_id", ev.Connection.ConnectionID)
	}
}

func (n *Notifier) count(session bool) *outcomes {
	if session {
		return &n.sessions
	}
	return &n.events
}

// ContributeStats adds the delivery counters to an engine's stats
// (GetStatsReport's total_*_event_webhook and total_*_session_webhook).
func (n *Notifier) ContributeStats(s *stats.Snapshot) {
	s.EventWebhookSuccessful += n.events.successful.Load()
	s.EventWebhookFailed += n.events.failed.Load()
	s.EventWebhookIgnored += n.events.ignored.Load()
	s.SessionWebhookSuccessful += n.sessions.successful.Load()
	s.SessionWebhookFailed += n.sessions.failed.Load()
	s.SessionWebhookIgnored += n.sessions.ignored.Load()
}

// Close stops observing and sends what is queued, until ctx is done;
// what is left then is counted as failed.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		<-n.done
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	select {
	case <-n.done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		return ctx.Err()
	}
}

// run sends the queued webhooks one by one, in order, and queues
// connection.updated for every connected connection each UpdateInterval.
func (n *Notifier) run() {
	defer close(n.done)
	tick := time.NewTicker(n.cfg.UpdateInterval)
	defer tick.Stop()
	for {
		select {
		case d := <-n.queue:
			n.deliver(d)
		case <-tick.C:
			n.queueUpdates()
		case <-n.stop:
			for {
				select {
				case d := <-n.queue:
					n.deliver(d)
				default:
					return
				}
			}
		}
	}
}

func (n *Notifier) queueUpdates() {
	n.mu.Lock()
	ids := make([]string, 0, len(n.live))
	for id := range n.live {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	// One connection at a time, so that the engine (whose Observe calls
	// wait for n.mu) never waits for more than one marshal.
	for _, id := range ids {
		n.mu.Lock()
		if created, ok := n.live[id]; ok && !n.closed {
			now := time.Now()
			ev := created
			ev.Kind, ev.Time, ev.Setup, ev.Duration = sfu.ConnectionUpdated, now, 0, now.Sub(created.Time)
			n.enqueueLocked(ev)
		}
		n.mu.Unlock()
	}
}

// deliver sends one webhook, retrying with backoff.
func (n *Notifier) deliver(d delivery) {
	c := n.count(d.session)
	wait := n.cfg.Backoff
	var err error
	for attempt := 1; attempt <= n.cfg.Attempts; attempt++ {
		if err = n.post(d); err == nil {
			c.successful.Add(1)
			return
		}
		if attempt == n.cfg.Attempts || !n.sleep(wait) {
			break
		}
		wait = min(wait*2, n.cfg.MaxBackoff)
	}
	c.failed.Add(1)
	n.cfg.Logger.Warn("webhook not delivered", "type", d.typ, "err", err)
}

// sleep waits d, or less if Close's deadline passes; it reports whether
// the full wait elapsed.
func (n *Notifier) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

func (n *Notifier) post(d delivery) error {
	url, header := n.cfg.EventURL, "sora-event-webhook-type"
	if d.session {
		url, header = n.cfg.SessionURL, "sora-session-webhook-type"
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, d.typ)
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerSize))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s answered %d", d.typ, resp.StatusCode)
	}
	return nil
}
