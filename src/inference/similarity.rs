//! "Similar species": classes whose vectors in the model's last layer point the same way. The
//! classifier's weight row for a class is the direction in feature space that class answers to,
//! so two classes with close rows are ones the model finds alike (the seed's "species vectors").

use tch::{CModule, Kind};

/// One unit-length vector per class, in label order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassVectors {
    vectors: Vec<Vec<f32>>,
}

impl ClassVectors {
    /// Takes the last two-dimensional parameter with one row per class: the classifier's
    /// weights. None when the TorchScript module has no such parameter (e.g. a frozen graph).
    pub fn from_module(module: &CModule, classes: usize) -> Option<Self> {
        let params = module.named_parameters().ok()?;
        let (_, weight) =
            params.into_iter().rev().find(|(_, t)| t.size().len() == 2 && t.size()[0] == classes as i64)?;
        let rows: Vec<Vec<f32>> =
            Vec::<Vec<f32>>::try_from(weight.to_kind(Kind::Float).to_device(tch::Device::Cpu).contiguous()).ok()?;
        Some(Self::from_rows(rows))
    }

    pub fn from_rows(rows: Vec<Vec<f32>>) -> Self {
        let vectors = rows
            .into_iter()
            .map(|r| {
                let norm = r.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    r.iter().map(|v| v / norm).collect()
                } else {
                    r
                }
            })
            .collect();
        ClassVectors { vectors }
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    /// The `k` classes most like `index` among those `eligible` admits, with cosine
    /// similarity, most similar first. The class itself is never among them.
    pub fn most_similar(&self, index: usize, k: usize, eligible: impl Fn(usize) -> bool) -> Vec<(usize, f32)> {
        let Some(this) = self.vectors.get(index) else { return Vec::new() };
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index && eligible(*i))
            .map(|(i, v)| (i, v.iter().zip(this).map(|(a, b)| a * b).sum()))
            .collect();
        scored.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::ClassVectors;

    #[test]
    fn nearest_by_cosine_excluding_itself_and_ineligible() {
        let v = ClassVectors::from_rows(vec![
            vec![1.0, 0.0],
            vec![10.0, 1.0],
            vec![0.0, 1.0],
            vec![-1.0, 0.0],
            vec![0.0, 0.0],
        ]);
        let near = v.most_similar(0, 2, |_| true);
        assert_eq!(near.iter().map(|n| n.0).collect::<Vec<_>>(), [1, 2]);
        assert!((near[0].1 - 10.0 / 101f32.sqrt()).abs() < 1e-6, "scale does not matter: {near:?}");
        assert_eq!(v.most_similar(0, 5, |i| i != 1).first().map(|n| n.0), Some(2));
        assert!(v.most_similar(9, 3, |_| true).is_empty());
        assert_eq!(v.most_similar(4, 1, |_| true)[0].1, 0.0, "a zero row is similar to nothing");
    }
}
