package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	sfu "github.com/gosfu/sfu"
)

// ReasonClusterUnavailable is the close reason of a connect that could
// not be placed (NATS unreachable, a claim contended too long).
const ReasonClusterUnavailable = "CLUSTER-UNAVAILABLE"

// maxChannelID bounds the channel ids the router looks up; longer ones
// are left to the engine, which refuses them.
const maxChannelID = 255

// ErrContended: the channel's ownership kept changing while a connect
// tried to claim it.
var ErrContended = errors.New("cluster: channel ownership contended")

// Route implements signaling.Router: it serves the connect here when this
// node owns the channel or claims it, and otherwise returns the signaling
// URL of the owner or of the node that should take the new channel.
func (n *Node) Route(ctx context.Context, req sfu.ConnectRequest) (string, func(), error) {
	ch := req.ChannelID
	if ch == "" || len(ch) > maxChannelID {
		return "", nil, nil // the engine refuses it with the right reason
	}
	owned, err := n.own.begin(ctx, ch)
	if err != nil {
		return "", nil, unavailable(err)
	}
	done := func() { n.own.end(ch) }
	if owned {
		return "", done, nil
	}
	pctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	location, err := n.place(pctx, ch, req.Redirected)
	if err != nil || location != "" {
		done()
		if err != nil {
			return "", nil, unavailable(err)
		}
		return location, nil, nil
	}
	return "", done, nil
}

func unavailable(err error) error {
	return &sfu.RejectedError{Reason: ReasonClusterUnavailable, Err: err}
}

// place finds where ch lives, claiming it for this node when it lives
// nowhere and this node should take it. It returns "" to serve here.
func (n *Node) place(ctx context.Context, ch string, redirected bool) (string, error) {
	key := channelKey(ch)
	for range 4 {
		var e jetstream.KeyValueEntry
		err := retryTransient(ctx, func() (err error) {
			e, err = n.channels.Get(ctx, key)
			return err
		})
		switch {
		case err == nil:
			owner := string(e.Value())
			if owner == n.cfg.NodeName {
				n.own.adopt(ch, e.Revision())
				return "", nil
			}
			rec, err := n.node(ctx, owner)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				// The owner is gone (its registration expired before
				// this key): take the channel over.
				n.log.Info("taking over a channel of a node that is gone", "channel_id", ch, "owner", owner)
				if err := n.channels.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isWrongRevision(err) {
					return "", fmt.Errorf("cluster: take over %q: %w", ch, err)
				}
				continue
			}
			if err != nil {
				return "", err
			}
			return rec.SignalingURL, nil
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if !redirected {
				if location, err := n.elsewhere(ctx); err != nil || location != "" {
					return location, err
				}
			}
			var rev uint64
			err := retryTransient(ctx, func() (err error) {
				rev, err = n.channels.Create(ctx, key, []byte(n.cfg.NodeName))
				return err
			})
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another node claimed it first
			}
			if err != nil {
				return "", fmt.Errorf("cluster: claim %q: %w", ch, err)
			}
			n.own.adopt(ch, rev)
			return "", nil
		default:
			return "", fmt.Errorf("cluster: look up %q: %w", ch, err)
		}
	}
	return "", ErrContended
}

// elsewhere returns the signaling URL of the node a new channel should go
// to when this one is draining or full, or "" to take it here.
func (n *Node) elsewhere(ctx context.Context) (string, error) {
	full := n.cfg.MaxConnections > 0 && n.own.connections() >= n.cfg.MaxConnections
	if !n.engine.Draining() && !full {
		return "", nil
	}
	nodes, err := n.liveNodes(ctx)
	if err != nil {
		return "", err
	}
	best := -1
	for i, rec := range nodes {
		if rec.Name == n.cfg.NodeName || rec.Draining ||
			(rec.MaxConnections > 0 && rec.Connections >= rec.MaxConnections) {
			continue
		}
		if best < 0 || rec.Connections < nodes[best].Connections {
			best = i
		}
	}
	if best < 0 {
		return "", nil // nowhere better: the engine decides (a draining one refuses)
	}
	return nodes[best].SignalingURL, nil
}

// owner returns the node owning ch, "" when none does.
func (n *Node) owner(ctx context.Context, ch string) (string, error) {
	if ch == "" || len(ch) > maxChannelID {
		return "", nil
	}
	e, err := n.channels.Get(ctx, channelKey(ch))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: look up %q: %w", ch, err)
	}
	return string(e.Value()), nil
}
