//! ksafe-providers: model clients behind one trait (OpenAI-compatible, Anthropic, Google, mock).
//! Filled by the eval-runner issue; nothing here yet.
