package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
)

// testOnlyVersion prefixes the test-only operations.
const testOnlyVersion = "Sora_20000101."

// Test-only operations, for the rows of the error table no real operation
// of this package reaches on its own.
func init() {
	register(map[target]opFunc{
		op("20000101", "TestRange"): func(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
			n := p.integer("number", 1, 8)
			if p.err != nil {
				return nil, p.err
			}
			return map[string]int64{"number": n}, nil
		},
		op("20000101", "TestFail"): func(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
			return nil, errors.New("secret detail")
		},
		op("20000101", "TestPanic"): func(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
			panic("boom")
		},
		op("20000101", "TestEngineArg"): func(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
			return nil, &sfu.InvalidArgumentError{Key: "rid", Message: `"r9" is not r0, r1 or r2`}
		},
	})
}

func serve(t *testing.T, h http.Handler, target, body string) (int, errorBody, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set(TargetHeader, target)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e errorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, e, rec.Body.String()
}

func TestRangeAndInternalErrors(t *testing.T) {
	h := NewHandler(nil)
	cases := []struct {
		target, body string
		status       int
		errorType    string
		inMessage    string
	}{
		{"Sora_20000101.TestRange", `{"number": 9}`, 400, ErrorInvalidParameter, "number"},
		{"Sora_20000101.TestRange", `{"number": 0}`, 400, ErrorInvalidParameter, "between 1 and 8"},
		{"Sora_20000101.TestRange", `{"number": 2.5}`, 400, ErrorInvalidParameter, "integer"},
		{"Sora_20000101.TestRange", `{"number": "3"}`, 400, ErrorInvalidParameter, "integer"},
		{"Sora_20000101.TestRange", `{"number": 1e400}`, 400, ErrorInvalidParameter, "number"},
		{"Sora_20000101.TestRange", `{"number": 8}`, 200, "", ""},
		{"Sora_20000101.TestRange", `{"number": 3.0}`, 200, "", ""},
		{"Sora_20000101.TestFail", ``, 500, ErrorInternal, "internal error"},
		{"Sora_20000101.TestPanic", ``, 500, ErrorInternal, "internal error"},
		{"Sora_20000101.TestEngineArg", ``, 400, ErrorInvalidParameter, "rid"},
	}
	for _, c := range cases {
		status, e, raw := serve(t, h, c.target, c.body)
		if status != c.status || e.ErrorType != c.errorType || !strings.Contains(e.Message, c.inMessage) {
			t.Errorf("%s %s: %d %s", c.target, c.body, status, raw)
		}
		if strings.Contains(raw, "secret") || strings.Contains(raw, "boom") {
			t.Errorf("%s: internal detail leaked: %s", c.target, raw)
		}
	}
}

func TestOperationsRegistered(t *testing.T) {
	want := []string{
		"Sora_20151104.DisconnectChannel", "Sora_20151104.DisconnectClient", "Sora_20151104.DisconnectConnection",
		"Sora_20160711.PushChannel", "Sora_20160711.PushConnection",
		"Sora_20171010.GetStatsReport", "Sora_20171218.GetLicense",
		"Sora_20200225.GetAllRemoteStats", "Sora_20200225.GetChannelRemoteStats", "Sora_20200225.GetConnectionRemoteStats",
		"Sora_20201013.ListChannelConnections", "Sora_20201013.ListChannels", "Sora_20201013.ListConnections",
		"Sora_20211215.GetRtcStats", "Sora_20211215.ListChannelRtcStats", "Sora_20211215.ListRtcStats",
		"Sora_20241218.RequestKeyFrame",
	}
	have := map[string]bool{}
	for _, s := range Operations() {
		have[s] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("%s is not registered", w)
		}
	}
}

func TestParseTarget(t *testing.T) {
	got, err := parseTarget("Sora_20201013.ListChannels")
	if err != nil || got != op("20201013", "ListChannels") {
		t.Fatalf("parseTarget = %v, %v", got, err)
	}
	for _, bad := range []string{"", "Sora_", "Sora_2020101x.A", "sora_20201013.A", "Sora_20201013.", "Sora_202010130.A"} {
		if _, err := parseTarget(bad); err == nil {
			t.Errorf("parseTarget(%q) accepted", bad)
		}
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
