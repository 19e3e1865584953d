//! The epochs of a stage that trains backbone blocks with the head, whatever it trains on:
//! each epoch is reported and kept in the head's history, the best one on val is remembered,
//! the stage stops after `patience` epochs without a better one, and at the end the best
//! weights come back and the temperature is fitted again.
//!
//! The weights of the second half's epochs are also averaged (stochastic weight
//! averaging): late in a decaying schedule the epochs circle one minimum, and their mean sits
//! nearer its flat middle than any one of them. The average replaces the best epoch when it
//! scores at least as well on val.

use std::fmt;
use std::time::Instant;

use tch::nn;
use tch::{Device, Tensor, TrainableCModule};

use super::unfreeze::{restore, snapshot};
use super::{accuracy, fit_temperature, Epoch, TrainedHead, TrainingError};

type Weights = Vec<(String, Tensor)>;

/// What averaging the late epochs' weights gave, against the best single epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Averaged {
    pub first_epoch: usize,
    pub last_epoch: usize,
    pub val_accuracy: f64,
    pub best_epoch: usize,
    pub best_val_accuracy: f64,
    /// Whether the average, not the best epoch, is what the stage ended with.
    pub kept: bool,
}

impl fmt::Display for Averaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "weights averaged over epochs {}–{}: val top-1 {:.2} % (best epoch {}: {:.2} %); {}",
            self.first_epoch,
            self.last_epoch,
            self.val_accuracy * 100.0,
            self.best_epoch,
            self.best_val_accuracy * 100.0,
            if self.kept { "kept the average" } else { "kept the best epoch" }
        )
    }
}

/// A running mean of the blocks' and the head's weights.
struct Average {
    from: usize,
    epochs: usize,
    weights: Option<(Weights, Weights)>,
}

impl Average {
    fn add(&mut self, blocks: &nn::VarStore, head: &nn::VarStore) {
        self.epochs += 1;
        let Some((mean_blocks, mean_head)) = &mut self.weights else {
            self.weights = Some((snapshot(blocks), snapshot(head)));
            return;
        };
        let share = 1.0 / self.epochs as f64;
        tch::no_grad(|| {
            for (saved, vs) in [(mean_blocks, blocks), (mean_head, head)] {
                let now = vs.variables();
                for (name, mean) in saved.iter_mut() {
                    if let Some(v) = now.get(name) {
                        // mean += (v − mean) / n
                        let _ = mean.g_add_(&((v - &*mean) * share));
                    }
                }
            }
        });
    }
}

pub(super) struct BestEpoch {
    accuracy: f64,
    epoch: usize,
    weights: (Weights, Weights),
    patience: usize,
    average: Average,
    started: Instant,
}

impl BestEpoch {
    /// Starts from the untrained state, whose val top-1 is `accuracy`; the second half of
    /// `max_epochs` is averaged.
    pub fn new(accuracy: f64, blocks: &nn::VarStore, head: &TrainedHead, patience: usize, max_epochs: usize) -> Self {
        let weights = (snapshot(blocks), snapshot(&head.vs));
        let average = Average { from: max_epochs / 2 + 1, epochs: 0, weights: None };
        BestEpoch { accuracy, epoch: 0, weights, patience, average, started: Instant::now() }
    }

    /// Records a finished epoch; false when the stage should stop.
    pub fn record(
        &mut self,
        (epoch, train_loss, val_accuracy): (usize, f64, f64),
        blocks: &nn::VarStore,
        head: &mut TrainedHead,
        progress: &mut impl FnMut(&Epoch),
    ) -> bool {
        let e = Epoch { epoch, train_loss, val_accuracy, seconds: self.started.elapsed().as_secs_f64() };
        progress(&e);
        head.history.push(e);
        if val_accuracy > self.accuracy {
            (self.accuracy, self.epoch) = (val_accuracy, epoch);
            self.weights = (snapshot(blocks), snapshot(&head.vs));
        }
        if epoch >= self.average.from {
            self.average.add(blocks, &head.vs);
        }
        epoch - self.epoch < self.patience
    }

    /// Ends with the average of the late epochs when it scores at least as well on val as the
    /// best epoch, otherwise with the best epoch; then calibrates the head on `evaluate`'s val
    /// logits of the weights it ends with.
    pub fn finish(
        self,
        blocks: &nn::VarStore,
        backbone: &mut TrainableCModule,
        head: &mut TrainedHead,
        val_y: &Tensor,
        evaluate: impl Fn(&TrainableCModule, &TrainedHead) -> Result<Tensor, TrainingError>,
    ) -> Result<(), TrainingError> {
        head.best_val_accuracy = self.accuracy;
        head.averaged = None;
        // When no epoch beat the untrained state the stage ends untrained, not on a mean of
        // epochs that were all worse.
        let average = self.average.weights.as_ref().filter(|_| self.average.epochs >= 2 && self.epoch > 0);
        let mut kept_logits = None;
        if let Some((mean_blocks, mean_head)) = average {
            restore(blocks, mean_blocks);
            restore(&head.vs, mean_head);
            let logits = evaluate(backbone, head)?;
            let val_accuracy = accuracy(&logits, val_y);
            let kept = val_accuracy >= self.accuracy;
            head.averaged = Some(Averaged {
                first_epoch: self.average.from,
                last_epoch: self.average.from + self.average.epochs - 1,
                val_accuracy,
                best_epoch: self.epoch,
                best_val_accuracy: self.accuracy,
                kept,
            });
            if kept {
                head.best_val_accuracy = val_accuracy;
                kept_logits = Some(logits);
            }
        }
        let logits = match kept_logits {
            Some(logits) => logits,
            None => {
                restore(blocks, &self.weights.0);
                restore(&head.vs, &self.weights.1);
                evaluate(backbone, head)?
            }
        };
        head.vs.freeze();
        head.temperature = fit_temperature(&logits, val_y);
        head.move_to(Device::Cpu);
        backbone.set_eval();
        Ok(())
    }
}
