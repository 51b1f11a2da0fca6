package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/gosfu/sfu/httpapi"
)

// statusHeader carries a routed answer's HTTP status.
const statusHeader = "Status"

// gathered are the node-wide lists every live node contributes to.
var gathered = map[string]bool{
	"ListChannels": true, "ListConnections": true, "GetAllRemoteStats": true, "ListRtcStats": true,
}

// localOnly reports Sora's {"local": true} (ListRtcStats: this node only).
func localOnly(body []byte) bool {
	var b struct {
		Local bool `json:"local"`
	}
	return json.Unmarshal(body, &b) == nil && b.Local
}

// RouteAPI implements httpapi.Router.
func (n *Node) RouteAPI(ctx context.Context, req httpapi.RoutedRequest) (httpapi.RoutedAnswer, bool, error) {
	switch {
	case req.Target == "Sora_20211215.ListClusterNodes":
		ans, err := n.listClusterNodes(ctx)
		return ans, err == nil, err
	case gathered[req.Name] && !localOnly(req.Body):
		return n.gather(ctx, req), true, nil
	case req.ChannelID == "":
		return httpapi.RoutedAnswer{}, false, nil
	}
	owner, err := n.owner(ctx, req.ChannelID)
	if err != nil {
		return httpapi.RoutedAnswer{}, false, err
	}
	if owner == "" || owner == n.cfg.NodeName {
		return httpapi.RoutedAnswer{}, false, nil
	}
	ans, err := n.request(ctx, owner, req)
	if errors.Is(err, nats.ErrNoResponders) {
		// The owner is gone and its claim not yet expired: the channel
		// is nowhere, which this node answers as well as any.
		return httpapi.RoutedAnswer{}, false, nil
	}
	return ans, err == nil, err
}

// request sends a call to node's API and returns its answer.
func (n *Node) request(ctx context.Context, node string, req httpapi.RoutedRequest) (httpapi.RoutedAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	msg := nats.NewMsg(apiSubject + node)
	msg.Header.Set(httpapi.TargetHeader, req.Target)
	if a := req.Header.Get("Authorization"); a != "" {
		msg.Header.Set("Authorization", a)
	}
	msg.Data = req.Body
	resp, err := n.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return httpapi.RoutedAnswer{}, fmt.Errorf("cluster: %s on node %s: %w", req.Target, node, err)
	}
	status, err := strconv.Atoi(resp.Header.Get(statusHeader))
	if err != nil || status < 100 || status > 599 {
		return httpapi.RoutedAnswer{}, fmt.Errorf("cluster: %s on node %s: answer without a status", req.Target, node)
	}
	return httpapi.RoutedAnswer{Status: status, Body: resp.Data}, nil
}

// serveAPI answers a call routed here with the local API handler.
func (n *Node) serveAPI(m *nats.Msg) {
	select {
	case n.apiSem <- struct{}{}:
	default:
		n.respond(m, http.StatusServiceUnavailable, errorJSON(httpapi.ErrorNodeUnavailable, "too many routed calls"))
		return
	}
	go func() {
		defer func() { <-n.apiSem }()
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.RequestTimeout)
		defer cancel()
		status, body := n.serveLocal(ctx, m.Header.Get(httpapi.TargetHeader), m.Header.Get("Authorization"), m.Data)
		n.respond(m, status, body)
	}()
}

// serveLocal runs one call on this node's API handler.
func (n *Node) serveLocal(ctx context.Context, target, auth string, body []byte) (int, []byte) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, errorJSON("INTERNAL-ERROR", "internal error")
	}
	r.Header.Set(httpapi.TargetHeader, target)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	n.local.ServeHTTP(rec, r)
	return rec.status, rec.body.Bytes()
}

func (n *Node) respond(m *nats.Msg, status int, body []byte) {
	if max := n.nc.MaxPayload() - 1024; int64(len(body)) > max {
		status, body = http.StatusInternalServerError, errorJSON("INTERNAL-ERROR", "answer larger than NATS's max payload")
	}
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(statusHeader, strconv.Itoa(status))
	reply.Data = body
	if err := m.RespondMsg(reply); err != nil {
		n.log.Debug("routed API: respond", "err", err)
	}
}

func errorJSON(typ, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error_type": typ, "message": msg})
	return b
}

// gather asks every live node (this one directly) and concatenates their
// JSON arrays. A node that does not answer in time is left out and
// named in the log.
func (n *Node) gather(ctx context.Context, req httpapi.RoutedRequest) httpapi.RoutedAnswer {
	nodes, err := n.liveNodes(ctx)
	if err != nil {
		n.log.Warn("routed API: listing nodes; answering for this node only", "target", req.Target, "err", err)
		nodes = nil
	}
	if !containsNode(nodes, n.cfg.NodeName) {
		nodes = append(nodes, nodeRecord{Name: n.cfg.NodeName})
	}
	// This node first: an error here (a bad body) is every node's answer.
	var self httpapi.RoutedAnswer
	self.Status, self.Body = n.serveLocal(ctx, req.Target, req.Header.Get("Authorization"), req.Body)
	if self.Status != http.StatusOK {
		return self
	}
	parts := make([][]json.RawMessage, len(nodes))
	var wg sync.WaitGroup
	for i, rec := range nodes {
		wg.Go(func() {
			ans := self
			var err error
			if rec.Name != n.cfg.NodeName {
				ans, err = n.request(ctx, rec.Name, req)
			}
			if err != nil {
				n.log.Warn("routed API: node did not answer", "target", req.Target, "node", rec.Name, "err", err)
				return
			}
			if ans.Status != http.StatusOK {
				n.log.Warn("routed API: node answered an error", "target", req.Target, "node", rec.Name, "status", ans.Status)
				return
			}
			if err := json.Unmarshal(ans.Body, &parts[i]); err != nil {
				n.log.Warn("routed API: node answered no JSON array", "target", req.Target, "node", rec.Name)
			}
		})
	}
	wg.Wait()
	all := []json.RawMessage{}
	for _, p := range parts {
		all = append(all, p...)
	}
	b, _ := json.Marshal(all)
	return httpapi.RoutedAnswer{Status: http.StatusOK, Body: b}
}

func containsNode(nodes []nodeRecord, name string) bool {
	for _, r := range nodes {
		if r.Name == name {
			return true
		}
	}
	return false
}

// clusterNodeJSON is one entry of Sora_20211215.ListClusterNodes, the
// fields sora_exporter reads.
type clusterNodeJSON struct {
	ClusterNodeName string `json:"cluster_node_name"`
	NodeName        string `json:"node_name"`
	Mode            string `json:"mode"`
	Connected       bool   `json:"connected"`
	TemporaryNode   bool   `json:"temporary_node"`
	SignalingURL    string `json:"signaling_url"`
	Connections     int    `json:"connections"`
}

func (n *Node) listClusterNodes(ctx context.Context) (httpapi.RoutedAnswer, error) {
	nodes, err := n.liveNodes(ctx)
	if err != nil {
		return httpapi.RoutedAnswer{}, err
	}
	out := make([]clusterNodeJSON, 0, len(nodes))
	for _, rec := range nodes {
		mode := "normal"
		if rec.Draining {
			mode = "block_new_connection"
		}
		out = append(out, clusterNodeJSON{
			ClusterNodeName: rec.Name, NodeName: rec.Name, Mode: mode, Connected: true,
			SignalingURL: rec.SignalingURL, Connections: rec.Connections,
		})
	}
	b, err := json.Marshal(out)
	return httpapi.RoutedAnswer{Status: http.StatusOK, Body: b}, err
}

// recorder is the http.ResponseWriter of a call served for another node.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
