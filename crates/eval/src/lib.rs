//! ksafe-eval: the runner, the run store and the judges. Filled by the eval-runner and judge
//! issues; nothing here yet.
