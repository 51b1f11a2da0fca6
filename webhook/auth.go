package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	sfu "github.com/gosfu/sfu"
)

// DefaultAuthTimeout bounds one auth webhook call.
const DefaultAuthTimeout = 5 * time.Second

// maxAnswerSize bounds a webhook's answer body.
const maxAnswerSize = 1 << 20

// Reasons a connect is refused with when the auth webhook fails.
const (
	ReasonAuthDenied          = "AUTH-REJECTED" // denied without a reason
	ReasonAuthError           = "AUTH-WEBHOOK-ERROR"
	ReasonAuthTimeout         = "AUTH-WEBHOOK-TIMEOUT"
	ReasonAuthInvalidResponse = "AUTH-WEBHOOK-INVALID-RESPONSE"
)

// Authenticator calls an auth webhook. Its Authenticate method is an
// sfu.Options.Authenticate.
type Authenticator struct {
	url     string
	client  *http.Client
	timeout time.Duration
}

// AuthOption configures an Authenticator.
type AuthOption func(*Authenticator)

// WithAuthTimeout bounds each call (default 5 s); d <= 0 keeps the
// default.
func WithAuthTimeout(d time.Duration) AuthOption {
	return func(a *Authenticator) {
		if d > 0 {
			a.timeout = d
		}
	}
}

// WithAuthClient sets the HTTP client (default: a client of its own).
func WithAuthClient(c *http.Client) AuthOption { return func(a *Authenticator) { a.client = c } }

// NewAuthenticator returns an Authenticator that POSTs to url.
func NewAuthenticator(url string, opts ...AuthOption) *Authenticator {
	// Connects come in bursts (a meeting starts): keep more connections
	// to the webhook than net/http's default two.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	a := &Authenticator{url: url, client: &http.Client{Transport: t}, timeout: DefaultAuthTimeout}
	for _, o := range opts {
		o(a)
	}
	return a
}

// authRequest is the body of an auth webhook call, in Sora's shape.
type authRequest struct {
	Version      string          `json:"version"`
	Multistream  bool            `json:"multistream"`
	ChannelID    string          `json:"channel_id"`
	ClientID     string          `json:"client_id,omitempty"`
	BundleID     string          `json:"bundle_id,omitempty"`
	ConnectionID string          `json:"connection_id"`
	Role         sfu.Role        `json:"role"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	Simulcast    bool            `json:"simulcast"`
	SimulcastRID string          `json:"simulcast_rid,omitempty"`
	Spotlight    bool            `json:"spotlight"`
	Audio        media           `json:"audio"`
	Video        media           `json:"video"`
	SoraClient   *soraClient     `json:"sora_client,omitempty"`
	RemoteAddr   string          `json:"remote_addr,omitempty"`
	UserAgent    string          `json:"user_agent,omitempty"`
}

// media is connect's audio or video: false, true, or what was asked for.
type media struct{ sfu.MediaRequest }

func (m media) MarshalJSON() ([]byte, error) {
	if m.Disabled {
		return []byte("false"), nil
	}
	if m.CodecType == "" && m.BitRate == 0 {
		return []byte("true"), nil
	}
	return json.Marshal(struct {
		CodecType string `json:"codec_type,omitempty"`
		BitRate   int    `json:"bit_rate,omitempty"`
	}{m.CodecType, m.BitRate})
}

type soraClient struct {
	Raw         string `json:"raw,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// authAnswer is the webhook's answer. Allowed is a pointer so that an
// answer without it is told from false.
type authAnswer struct {
	Allowed       *bool           `json:"allowed"`
	Reason        string          `json:"reason"`
	AuthzMetadata json.RawMessage `json:"authz_metadata"`
	Metadata      json.RawMessage `json:"metadata"`
	EventMetadata json.RawMessage `json:"event_metadata"`
}

// Authenticate asks the webhook about req. A failed call returns an
// *sfu.RejectedError whose Reason the client is refused with.
func (a *Authenticator) Authenticate(ctx context.Context, req *sfu.ConnectRequest) (sfu.Decision, error) {
	body, err := json.Marshal(newAuthRequest(req))
	if err != nil {
		return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthError, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthError, Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthTimeout, Err: err}
		}
		return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthError, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthError,
			Err: fmt.Errorf("webhook: auth webhook answered %d", resp.StatusCode)}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthTimeout, Err: err}
		}
		return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthError, Err: err}
	}
	return parseAuthAnswer(raw)
}

func newAuthRequest(req *sfu.ConnectRequest) authRequest {
	r := authRequest{
		Version: sfu.Version(), Multistream: true,
		ChannelID: req.ChannelID, ClientID: req.ClientID, BundleID: req.BundleID,
		ConnectionID: req.ConnectionID, Role: req.Role, Metadata: req.Metadata,
		Simulcast: req.Simulcast, SimulcastRID: req.SimulcastRID, Spotlight: req.Spotlight,
		Audio: media{req.Audio}, Video: media{req.Video},
		RemoteAddr: req.RemoteAddr, UserAgent: req.UserAgent,
	}
	if req.SoraClient != "" || req.Environment != "" {
		r.SoraClient = &soraClient{Raw: req.SoraClient, Environment: req.Environment}
	}
	return r
}

// parseAuthAnswer reads a 200 answer's body.
func parseAuthAnswer(raw []byte) (sfu.Decision, error) {
	invalid := func(msg string) (sfu.Decision, error) {
		return sfu.Decision{}, &sfu.RejectedError{Reason: ReasonAuthInvalidResponse,
			Err: errors.New("webhook: auth webhook answer: " + msg)}
	}
	if len(raw) > maxAnswerSize {
		return invalid(fmt.Sprintf("larger than %d bytes", maxAnswerSize))
	}
	var ans authAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return invalid("not a JSON object")
	}
	if ans.Allowed == nil {
		return invalid(`no "allowed" boolean`)
	}
	if !*ans.Allowed {
		reason := clip(ans.Reason, maxReasonSize)
		if reason == "" {
			reason = ReasonAuthDenied
		}
		return sfu.Decision{Allow: false, Reason: reason}, nil
	}
	authz := nullToNil(ans.AuthzMetadata)
	if authz == nil {
		authz = nullToNil(ans.Metadata)
	}
	return sfu.Decision{Allow: true, Metadata: authz, EventMetadata: nullToNil(ans.EventMetadata)}, nil
}

// maxReasonSize bounds a denial's reason: it is sent in a WebSocket close
// frame, whose reason must fit in 123 bytes.
const maxReasonSize = 120

// clip cuts s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func nullToNil(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}
