package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// A request for no route of the local API, or for one of its paths with
// a method it does not take, is answered as every other error is, in
// JSON with a code (api/openapi.yaml): net/http's mux answers them in
// plain text ("404 page not found"), which a client reading the error's
// JSON fails on.

var (
	// errNoRoute is a path the local API does not serve.
	errNoRoute = errors.New("no such route")
	// errMethodNotAllowed is a path the local API serves, asked with a
	// method it does not take there.
	errMethodNotAllowed = errors.New("method not allowed")
)

// handleNoRoute adds to mux, which serves rs, the answers to a path none
// of rs has and to a path of theirs asked with another method: the mux
// takes a pattern with a method over one without, and any other over "/".
func handleNoRoute(mux *http.ServeMux, rs []route) {
	methods := map[string][]string{}
	var paths []string
	for _, r := range rs {
		method, path, _ := strings.Cut(r.pattern, " ")
		if _, ok := methods[path]; !ok {
			paths = append(paths, path)
		}
		methods[path] = append(methods[path], method)
		if method == http.MethodGet {
			methods[path] = append(methods[path], http.MethodHead) // the mux serves HEAD with GET
		}
	}
	for _, path := range paths {
		allow := strings.Join(slices.Sorted(slices.Values(methods[path])), ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			encodeError(r.Context(), fmt.Errorf("%w: %s %s takes %s", errMethodNotAllowed, r.Method, r.URL.Path, allow), w)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		encodeError(r.Context(), fmt.Errorf("%w: %s %s is no route of the local API; api/openapi.yaml lists them", errNoRoute, r.Method, r.URL.Path), w)
	})
}
