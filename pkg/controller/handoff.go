package controller

import (
	"context"
	"sync"
)

// A worker that waited on each write, as the built-in's do, wrote at most
// Workers Endpoints at a time: at 100k pods the 10k creates of a cold start
// took two thirds of it at 5 workers, though the rate limit allowed more.
// With Options.Writes, a worker hands a sync over once it has computed
// what to write and a write slot is free, and takes the next key; the sync
// writes on its own goroutine. The key stays in processing until its sync
// ends, so a Service is still never synced twice at once, and the rate
// limit still bounds requests.

type handoffKey struct{}

// processHandingOff syncs key on a goroutine of its own and returns once
// the sync has ended or has started writing.
func (c *Controller) processHandingOff(ctx context.Context, key string) {
	freed := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(freed) }) }
	acquire := func() (release func()) {
		c.writeSlots <- struct{}{}
		free()
		return func() { <-c.writeSlots }
	}
	c.handoffs.Go(func() {
		defer free()
		c.process(context.WithValue(ctx, handoffKey{}, acquire), key)
	})
	<-freed
}

// beginWrite is called by a sync right before it writes: in a handed-over
// sync it waits for a write slot and frees the worker. The returned func
// releases the slot once the write is done.
func beginWrite(ctx context.Context) (done func()) {
	if acquire, ok := ctx.Value(handoffKey{}).(func() func()); ok {
		return acquire()
	}
	return func() {}
}
