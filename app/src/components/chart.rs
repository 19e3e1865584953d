//! Weekly counts drawn as SVG on the server: readable without JavaScript, each bar titled
//! with its week and count for screen readers and hover.

use leptos::prelude::*;

/// One bar per week, oldest left; `weeks` names each bar's week (its Monday, "2025-12-01").
#[component]
pub fn WeeklyBars(
    counts: Vec<u32>,
    weeks: Vec<String>,
    /// What the chart shows, for its accessible name.
    label: String,
    #[prop(optional)] small: bool,
) -> impl IntoView {
    let (width, height, gap) = if small { (156.0, 28.0, 1.0) } else { (624.0, 160.0, 2.0) };
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = width / counts.len().max(1) as f64;
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let h = if n == 0 { 0.0 } else { (f64::from(n) / max * (height - 2.0)).max(2.0) };
            let week = weeks.get(i).cloned().unwrap_or_default();
            view! {
                <rect
                    x=format!("{:.1}", i as f64 * step)
                    y=format!("{:.1}", height - h)
                    width=format!("{:.1}", (step - gap).max(1.0))
                    height=format!("{h:.1}")
                    class=if i + 1 == counts.len() { "bar this-week" } else { "bar" }
                >
                    <title>{format!("{week}: {n}")}</title>
                </rect>
            }
        })
        .collect_view();
    let peak = (!small).then(|| view! { <text x="2" y="12" class="peak">{format!("{}", max as u32)}</text> });
    view! {
        <svg
            class=if small { "weekly-bars small" } else { "weekly-bars" }
            viewBox=format!("0 0 {width} {height}")
            width=format!("{width}")
            height=format!("{height}")
            role="img"
            aria-label=label
        >
            <line x1="0" y1=format!("{height}") x2=format!("{width}") y2=format!("{height}") class="axis"/>
            {bars}
            {peak}
        </svg>
    }
}
