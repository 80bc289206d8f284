package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

type didNotConverge struct {
	id      string
	timeout time.Duration
}

func (d didNotConverge) Error() string {
	return "Service with ID (" + d.id + ") did not converge after " + d.timeout.String()
}

// pollConverge is the Terraform SDK's StateChangeConf as upstream sets it: wait `delay`, then
// ask every 5 s (MinTimeout) until done, an error, or the timeout.
func pollConverge(ctx context.Context, id string, delay, timeout time.Duration, step func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(delay):
	}
	for {
		done, err := step()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().Add(5 * time.Second).After(deadline) {
			return didNotConverge{id, timeout}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

type swarmTask struct {
	Slot         int    `json:"Slot"`
	NodeID       string `json:"NodeID"`
	DesiredState string `json:"DesiredState"`
	Status       struct {
		State           string `json:"State"`
		ContainerStatus *struct {
			ContainerID string `json:"ContainerID"`
		} `json:"ContainerStatus"`
	} `json:"Status"`
}

var taskStateOrder = map[string]int{"new": 1, "allocated": 2, "pending": 3, "assigned": 4, "accepted": 5,
	"preparing": 6, "ready": 7, "starting": 8, "running": 9, "complete": 10, "shutdown": 11, "failed": 12, "rejected": 13}

// allRunning is upstream's replicatedConsoleLogUpdater: one task per slot (the lowest desired
// state, then the lowest observed), on nodes not down; done when as many run as there are replicas.
func allRunning(ctx context.Context, e *engine, s *swarmService) (bool, error) {
	if s.Spec.Mode.Replicated == nil || s.Spec.Mode.Replicated.Replicas == nil {
		return false, errors.New("no replica count")
	}
	filters, _ := json.Marshal(map[string][]string{"service": {s.ID}, "desired-state": {"running"}})
	var tasks []swarmTask
	if err := e.call(ctx, http.MethodGet, "/tasks", url.Values{"filters": {string(filters)}}, nil, &tasks); err != nil {
		return false, err
	}
	var nodes []struct {
		ID     string `json:"ID"`
		Status struct {
			State string `json:"State"`
		} `json:"Status"`
	}
	if err := e.call(ctx, http.MethodGet, "/nodes", nil, nil, &nodes); err != nil {
		return false, err
	}
	active := map[string]bool{}
	for _, n := range nodes {
		if n.Status.State != "down" {
			active[n.ID] = true
		}
	}
	bySlot := map[int]swarmTask{}
	for _, t := range tasks {
		if taskStateOrder[t.DesiredState] == 0 || taskStateOrder[t.Status.State] == 0 {
			continue
		}
		if ex, ok := bySlot[t.Slot]; ok {
			if taskStateOrder[ex.DesiredState] < taskStateOrder[t.DesiredState] {
				continue
			}
			if taskStateOrder[ex.DesiredState] == taskStateOrder[t.DesiredState] &&
				taskStateOrder[ex.Status.State] <= taskStateOrder[t.Status.State] {
				continue
			}
		}
		if t.NodeID != "" && !active[t.NodeID] {
			continue
		}
		bySlot[t.Slot] = t
	}
	var running uint64
	for _, t := range bySlot {
		if taskStateOrder[t.DesiredState] <= taskStateOrder["running"] && t.Status.State == "running" {
			running++
		}
	}
	return running == *s.Spec.Mode.Replicated.Replicas, nil
}

func convergeCreate(ctx context.Context, e *engine, id string, delay, timeout time.Duration) error {
	return pollConverge(ctx, id, delay, timeout, func() (bool, error) {
		s, err := inspectService(ctx, e, id)
		if err != nil {
			return false, err
		}
		return allRunning(ctx, e, s)
	})
}

// convergeUpdate: upstream's update refresh, with its hard-coded 7 s delay.
func convergeUpdate(ctx context.Context, e *engine, id string, timeout time.Duration) error {
	return pollConverge(ctx, id, 7*time.Second, timeout, func() (bool, error) {
		s, err := inspectService(ctx, e, id)
		if err != nil {
			return false, err
		}
		rollback := false
		if u := s.UpdateStatus; u != nil {
			switch u.State {
			case "completed":
				return true, nil
			case "rollback_started":
				rollback = true
			case "rollback_completed":
				return false, fmt.Errorf("service rollback completed: %s", u.Message)
			case "paused":
				return false, fmt.Errorf("service update paused: %s", u.Message)
			case "rollback_paused":
				return false, fmt.Errorf("service rollback paused: %s", u.Message)
			}
		}
		done, err := allRunning(ctx, e, s)
		if err != nil || !done {
			return false, err
		}
		if rollback {
			return false, fmt.Errorf("service rollback completed: %s", s.UpdateStatus.Message)
		}
		return true, nil
	})
}
