//! The epochs of a stage that trains backbone blocks with the head, whatever it trains on:
//! each epoch is reported and kept in the head's history, the best one on val is remembered,
//! the stage stops after `patience` epochs without a better one, and at the end the best
//! weights come back and the temperature is fitted again.

use std::time::Instant;

use tch::nn;
use tch::{Device, Tensor, TrainableCModule};

use super::unfreeze::{restore, snapshot};
use super::{fit_temperature, Epoch, TrainedHead, TrainingError};

type Weights = Vec<(String, Tensor)>;

pub(super) struct BestEpoch {
    accuracy: f64,
    epoch: usize,
    weights: (Weights, Weights),
    patience: usize,
    started: Instant,
}

impl BestEpoch {
    /// Starts from the untrained state, whose val top-1 is `accuracy`.
    pub fn new(accuracy: f64, blocks: &nn::VarStore, head: &TrainedHead, patience: usize) -> Self {
        let weights = (snapshot(blocks), snapshot(&head.vs));
        BestEpoch { accuracy, epoch: 0, weights, patience, started: Instant::now() }
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
        epoch - self.epoch < self.patience
    }

    /// Puts the best weights back and calibrates the head on `evaluate`'s val logits.
    pub fn finish(
        self,
        blocks: &nn::VarStore,
        backbone: &mut TrainableCModule,
        head: &mut TrainedHead,
        val_y: &Tensor,
        evaluate: impl FnOnce(&TrainableCModule, &TrainedHead) -> Result<Tensor, TrainingError>,
    ) -> Result<(), TrainingError> {
        restore(blocks, &self.weights.0);
        restore(&head.vs, &self.weights.1);
        head.vs.freeze();
        head.best_val_accuracy = self.accuracy;
        head.temperature = fit_temperature(&evaluate(backbone, head)?, val_y);
        head.move_to(Device::Cpu);
        backbone.set_eval();
        Ok(())
    }
}
