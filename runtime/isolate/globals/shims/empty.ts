/** Inside the isolate: an empty stand-in for a module imported only for its side effects. */
export {};
