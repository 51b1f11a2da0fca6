package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sfu "github.com/gosfu/sfu"
)

// FuzzHandler sends arbitrary targets and bodies: the handler never
// panics and always answers JSON with a status from the error table.
func FuzzHandler(f *testing.F) {
	for _, t := range Operations() {
		if strings.HasPrefix(t, testOnlyVersion) {
			continue
		}
		f.Add(t, []byte(`{"channel_id":"sora","connection_id":"x","client_id":"c","data":{"a":1},"local":true}`))
	}
	f.Add("Sora_20201013.ListChannels", []byte(""))
	f.Add("Sora_20201013.ListChannels", []byte("[]"))
	f.Add("Sora_20000101.TestRange", []byte(`{"number": 1e999}`))
	f.Add("", []byte("{"))
	f.Add("Sora_2020.X", []byte(`{"channel_id": null}`))
	f.Add("Sora_20160711.PushChannel", []byte(`{"channel_id": "\u0000", "data": {"x": "\ud800"}}`))
	f.Add("Sora_20151104.DisconnectClient", []byte(strings.Repeat(`{"a":`, 1000)))

	engine, err := sfu.NewEngine(sfu.Options{UDPAddr: "127.0.0.1:0", InterfaceFilter: func(string) bool { return false }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := contextWithTimeout(10 * time.Second)
		defer cancel()
		engine.Close(ctx)
	})
	h := NewHandler(engine, WithMaxBodySize(64<<10))
	allowed := map[int]bool{200: true, 400: true, 404: true, 413: true}

	f.Fuzz(func(t *testing.T, target string, body []byte) {
		if strings.HasPrefix(target, testOnlyVersion) {
			return // internal_test.go's operations fail on purpose
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header.Set(TargetHeader, target)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("status %d for %q %q: %s", rec.Code, target, body, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content-type %q", ct)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		if rec.Code != 200 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorType == "" || e.Message == "" {
				t.Fatalf("error answer %s", rec.Body)
			}
		}
	})
}
