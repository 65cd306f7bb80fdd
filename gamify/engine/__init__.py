"""Pure evaluation functions: config + state + input -> changes. No Flask, no database."""
