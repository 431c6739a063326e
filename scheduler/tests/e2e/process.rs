//! A real `ferry` process started by a test: its stderr is read line by line on a thread, so the test
//! waits for a log line (or the exit) with a deadline instead of sleeping. Killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line read so far, for assertions and failure messages.
    pub stderr: Vec<String>,
}

impl Process {
    /// Starts `command` with stderr captured (stdout is discarded).
    pub fn start(mut command: Command) -> Process {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the ferry binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Process {
            child,
            lines,
            stderr: Vec::new(),
        }
    }

    /// The first JSON log line (from now) whose `message` is `message`, within `within`.
    pub fn wait_for_message(&mut self, message: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.stderr.push(line.clone());
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == message
            {
                return event;
            }
        }
        panic!(
            "no log line {message:?} within {within:?}; stderr:\n{}",
            self.stderr.join("\n")
        );
    }

    /// Waits (bounded) for the process to exit and returns its status, with all of stderr read.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the process can be waited on") {
                // The reader thread ends at EOF; collect what it still holds.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.stderr.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {within:?}; stderr:\n{}",
                self.stderr.join("\n")
            );
            while let Ok(line) = self.lines.try_recv() {
                self.stderr.push(line);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
