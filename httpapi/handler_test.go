package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
	"github.com/gosfu/sfu/client"
	"github.com/gosfu/sfu/httpapi"
	"github.com/gosfu/sfu/internal/sfutest"
)

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		a := e.do(t, m, map[string]string{"x-sora-target": "Sora_20201013.ListChannels"}, "")
		a.fails(t, http.StatusMethodNotAllowed, "METHOD-NOT-ALLOWED")
		if got := a.header.Get("Allow"); got != "POST, OPTIONS" {
			t.Errorf("%s: Allow %q", m, got)
		}
	}
}

func TestInvalidTarget(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	for _, target := range []string{
		"",                              // missing
		"ListChannels",                  // no service/version
		"Sora_2020.ListChannels",        // malformed version
		"Sora_20201013",                 // no operation
		"Sora_20201013.",                // empty operation
		"Kora_20201013.ListChannels",    // wrong service
		"Sora_20991231.ListChannels",    // unknown version of a known operation
		"Sora_20201013.NoSuchOperation", // unknown operation
	} {
		h := map[string]string{}
		if target != "" {
			h["x-sora-target"] = target
		}
		e.do(t, http.MethodPost, h, "{}").fails(t, http.StatusBadRequest, "INVALID-TARGET")
	}
}

func TestHeaderNameCaseInsensitive(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	for _, name := range []string{"x-sora-target", "X-Sora-Target", "X-SORA-TARGET"} {
		var list []any
		e.do(t, http.MethodPost, map[string]string{name: "Sora_20201013.ListChannels"}, "").ok(t, &list)
	}
}

func TestEmptyBodyIsEmptyObject(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	// As sora_exporter sends it: no body, no Content-Type.
	a := e.do(t, http.MethodPost, map[string]string{"x-sora-target": "Sora_20171010.GetStatsReport"}, "")
	var report map[string]any
	a.ok(t, &report)
	if _, ok := report["total_connection_created"]; !ok {
		t.Errorf("report %s lacks total_connection_created", a.body)
	}
	// A required key is still required.
	msg := e.call(t, "Sora_20201013.ListChannelConnections", "").fails(t, http.StatusBadRequest, "INVALID-PARAMETER")
	if !strings.Contains(msg, "channel_id") {
		t.Errorf("message %q does not name channel_id", msg)
	}
}

func TestInvalidJSON(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	for _, body := range []string{`{"channel_id": `, `not json`, `[]`, `["sora"]`, `"sora"`, `42`, `null`, `true`} {
		e.call(t, "Sora_20201013.ListChannelConnections", body).fails(t, http.StatusBadRequest, "INVALID-JSON")
	}
}

func TestInvalidParameter(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	cases := []struct{ target, body, key string }{
		{"Sora_20201013.ListChannelConnections", `{}`, "channel_id"},                                      // missing
		{"Sora_20201013.ListChannelConnections", `{"channel_id": null}`, "channel_id"},                    // null = missing
		{"Sora_20201013.ListChannelConnections", `{"channel_id": 1}`, "channel_id"},                       // wrong type
		{"Sora_20201013.ListChannelConnections", `{"channel_id": ""}`, "channel_id"},                      // empty
		{"Sora_20151104.DisconnectConnection", `{"channel_id": "sora"}`, "connection_id"},                 // missing second key
		{"Sora_20160711.PushChannel", `{"channel_id": "sora", "data": "x"}`, "data"},                      // not an object
		{"Sora_20160711.PushChannel", `{"channel_id": "sora"}`, "data"},                                   // missing object
		{"Sora_20211215.ListRtcStats", `{"local": "yes"}`, "local"},                                       // wrong type, optional key
		{"Sora_20151104.DisconnectClient", `{"channel_id": "sora", "client_id": ["a"]}`, "client_id"},     // array
		{"Sora_20241218.RequestKeyFrame", `{"channel_id": {"a": 1}, "connection_id": "x"}`, "channel_id"}, // object
	}
	for _, c := range cases {
		msg := e.call(t, c.target, c.body).fails(t, http.StatusBadRequest, "INVALID-PARAMETER")
		if !strings.Contains(msg, c.key) {
			t.Errorf("%s %s: message %q does not name %s", c.target, c.body, msg, c.key)
		}
	}
}

func TestPayloadTooLarge(t *testing.T) {
	e := newEnv(t, sfu.Options{}, httpapi.WithMaxBodySize(1024))
	body := `{"channel_id": "sora", "pad": "` + strings.Repeat("x", 1024) + `"}`
	e.call(t, "Sora_20201013.ListChannelConnections", body).fails(t, http.StatusRequestEntityTooLarge, "PAYLOAD-TOO-LARGE")
	// Just under the limit is fine.
	body = `{"channel_id": "sora", "pad": "` + strings.Repeat("x", 900) + `"}`
	e.call(t, "Sora_20201013.ListChannelConnections", body).ok(t, nil)
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	body := `{"channel_id": "sora", "pad": "` + strings.Repeat("x", 1<<20) + `"}`
	e.call(t, "Sora_20201013.ListChannelConnections", body).fails(t, http.StatusRequestEntityTooLarge, "PAYLOAD-TOO-LARGE")
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)
	c := e.dial(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})

	e.call(t, "Sora_20151104.DisconnectChannel", `{"channel_id": "nope"}`).fails(t, http.StatusNotFound, "CHANNEL-NOT-FOUND")
	e.call(t, "Sora_20151104.DisconnectConnection", `{"channel_id": "nope", "connection_id": "`+c.ConnectionID()+`"}`).
		fails(t, http.StatusNotFound, "CHANNEL-NOT-FOUND")
	e.call(t, "Sora_20151104.DisconnectConnection", `{"channel_id": "sora", "connection_id": "NOPE"}`).
		fails(t, http.StatusNotFound, "CONNECTION-NOT-FOUND")
	e.call(t, "Sora_20151104.DisconnectClient", `{"channel_id": "sora", "client_id": "nobody"}`).
		fails(t, http.StatusNotFound, "CONNECTION-NOT-FOUND")
	e.call(t, "Sora_20160711.PushConnection", `{"channel_id": "sora", "connection_id": "NOPE", "data": {}}`).
		fails(t, http.StatusNotFound, "CONNECTION-NOT-FOUND")
	e.call(t, "Sora_20200225.GetConnectionRemoteStats", `{"channel_id": "nope", "connection_id": "x"}`).
		fails(t, http.StatusNotFound, "CHANNEL-NOT-FOUND")
	e.call(t, "Sora_20211215.GetRtcStats", `{"channel_id": "sora", "connection_id": "x"}`).
		fails(t, http.StatusNotFound, "CONNECTION-NOT-FOUND")

	// Lists of a channel that does not exist are empty, not errors.
	for _, target := range []string{"Sora_20201013.ListChannelConnections", "Sora_20200225.GetChannelRemoteStats", "Sora_20211215.ListChannelRtcStats"} {
		a := e.call(t, target, `{"channel_id": "nope"}`)
		a.ok(t, nil)
		if string(a.body) != "[]" {
			t.Errorf("%s: %s, want []", target, a.body)
		}
	}
}

func TestFeatureDisabled(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	ctx := testContext(t, 20*time.Second)
	c := e.dial(t, ctx, client.Config{ChannelID: "sora", Role: client.RoleRecvonly})
	// A key frame from a connection that publishes no video.
	e.call(t, "Sora_20241218.RequestKeyFrame", `{"channel_id": "sora", "connection_id": "`+c.ConnectionID()+`"}`).
		fails(t, http.StatusBadRequest, "FEATURE-DISABLED")
}

var corsHeaders = map[string]string{
	"Access-Control-Allow-Origin":  "http://127.0.0.1:5000",
	"Access-Control-Allow-Headers": "Origin, X-Requested-With, Content-Type, Accept, Authorization, x-sora-target",
	"Access-Control-Allow-Methods": "POST, OPTIONS",
	"Access-Control-Max-Age":       "1000",
}

func TestCORS(t *testing.T) {
	e := newEnv(t, sfu.Options{}, httpapi.WithCORSOrigin("http://127.0.0.1:5000"))
	check := func(what string, a answer) {
		t.Helper()
		for k, v := range corsHeaders {
			if got := a.header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got, v)
			}
		}
	}
	a := e.call(t, "Sora_20201013.ListChannels", "")
	a.ok(t, nil)
	check("success", a)
	a = e.call(t, "Sora_20201013.Nope", "")
	a.fails(t, http.StatusBadRequest, "INVALID-TARGET")
	check("error", a)

	pre := e.do(t, http.MethodOptions, map[string]string{
		"Origin": "http://127.0.0.1:5000", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type,x-sora-target",
	}, "")
	if pre.status != http.StatusOK || len(pre.body) != 0 {
		t.Errorf("preflight: %d %q, want 200 and an empty body", pre.status, pre.body)
	}
	check("preflight", pre)
}

func TestNoCORSByDefault(t *testing.T) {
	e := newEnv(t, sfu.Options{})
	a := e.call(t, "Sora_20201013.ListChannels", "")
	a.ok(t, nil)
	for k := range corsHeaders {
		if v := a.header.Get(k); v != "" {
			t.Errorf("%s = %q without a configured origin", k, v)
		}
	}
}

func TestBearerToken(t *testing.T) {
	e := newEnv(t, sfu.Options{}, httpapi.WithBearerToken("s3cret"), httpapi.WithCORSOrigin("http://x"))
	h := map[string]string{"x-sora-target": "Sora_20201013.ListChannels"}
	a := e.do(t, http.MethodPost, h, "")
	a.fails(t, http.StatusUnauthorized, "UNAUTHORIZED")
	if a.header.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate")
	}
	h["Authorization"] = "Bearer wrong"
	e.do(t, http.MethodPost, h, "").fails(t, http.StatusUnauthorized, "UNAUTHORIZED")
	h["Authorization"] = "Bearer s3cret"
	e.do(t, http.MethodPost, h, "").ok(t, nil)
	// Preflights carry no credentials.
	if a := e.do(t, http.MethodOptions, nil, ""); a.status != http.StatusOK {
		t.Errorf("preflight: %d", a.status)
	}
}

// A browser page that sends the bearer token makes a preflight asking for
// Authorization; the browser sends the call only if the answer allows
// every header it asked for.
func TestCORSPreflightAllowsBearerToken(t *testing.T) {
	const origin = "http://127.0.0.1:5000"
	e := newEnv(t, sfu.Options{}, httpapi.WithBearerToken("s3cret"), httpapi.WithCORSOrigin(origin))
	pre := e.do(t, http.MethodOptions, map[string]string{
		"Origin": origin, "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,x-sora-target",
	}, "")
	if pre.status != http.StatusOK {
		t.Fatalf("preflight: %d, want 200", pre.status)
	}
	allowed := map[string]bool{}
	for h := range strings.SplitSeq(pre.header.Get("Access-Control-Allow-Headers"), ",") {
		allowed[strings.ToLower(strings.TrimSpace(h))] = true
	}
	for _, h := range []string{"authorization", "content-type", "x-sora-target"} {
		if !allowed[h] {
			t.Errorf("preflight does not allow %q: Access-Control-Allow-Headers = %q", h, pre.header.Get("Access-Control-Allow-Headers"))
		}
	}
	a := e.do(t, http.MethodPost, map[string]string{
		"Origin": origin, "x-sora-target": "Sora_20201013.ListChannels", "Authorization": "Bearer s3cret",
	}, "")
	a.ok(t, nil)
	if got := a.header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("call: Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
}

func TestMountedAnywhere(t *testing.T) {
	h := httpapi.NewHandler(sfutest.NewEngine(t, sfu.Options{}))
	for _, path := range []string{"/", "/api/", "/anything/else"} {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1"+path, nil)
		req.Header.Set("x-sora-target", "Sora_20201013.ListChannels")
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != "[]" {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}
