package httpapi

import (
	"context"
	"encoding/json"

	sfu "github.com/gosfu/sfu"
)

// Signaling-notify metadata operations (Sora_20201124). Answers are the
// metadata itself, as the seed document shows; list entries carry
// connection_id, client_id and metadata, in no promised order.
func init() {
	register(map[target]opFunc{
		op("20201124", "ListSignalingNotifyMetadata"):       listMetadata,
		op("20201124", "GetSignalingNotifyMetadata"):        getMetadata,
		op("20201124", "PutSignalingNotifyMetadata"):        putMetadata,
		op("20201124", "DeleteSignalingNotifyMetadata"):     deleteMetadata,
		op("20201124", "PutSignalingNotifyMetadataItem"):    putMetadataItem,
		op("20201124", "DeleteSignalingNotifyMetadataItem"): deleteMetadataItem,
	})
}

func listMetadata(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch := p.str("channel_id")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).ListMetadata(ctx)
}

func getMetadata(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn := p.str("channel_id"), p.str("connection_id")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).GetMetadata(ctx, conn)
}

func putMetadata(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, md, push := p.str("channel_id"), p.str("connection_id"), p.object("metadata"), p.optBool("push")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).PutMetadata(ctx, conn, md, push)
}

func deleteMetadata(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, push := p.str("channel_id"), p.str("connection_id"), p.optBool("push")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).DeleteMetadata(ctx, conn, push)
}

func putMetadataItem(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, key := p.str("channel_id"), p.str("connection_id"), p.str("key")
	value := p.anyValue("value")
	push := p.optBool("push")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).PutMetadataItem(ctx, conn, key, value, push)
}

func deleteMetadataItem(ctx context.Context, e *sfu.Engine, p *params) (any, error) {
	ch, conn, key, push := p.str("channel_id"), p.str("connection_id"), p.str("key"), p.optBool("push")
	if p.err != nil {
		return nil, p.err
	}
	return e.Channel(ch).DeleteMetadataItem(ctx, conn, key, push)
}

// anyValue reads a required key whose value may be any JSON, null
// included.
func (p *params) anyValue(key string) json.RawMessage {
	v, ok := p.raw[key]
	if p.err == nil && !ok {
		p.fail(key, "missing")
	}
	return v
}
