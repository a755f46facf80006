//! `haversine_km(lat1, lon1, lat2, lon2)`: great-circle distance in km.

use wasql_udf::udf;

/// The mean Earth radius (IUGG), in km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km between two points given in degrees.
#[udf]
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let half_dphi = (phi2 - phi1) / 2.0;
    let half_dlambda = (lon2 - lon1).to_radians() / 2.0;
    let a = half_dphi.sin().powi(2) + phi1.cos() * phi2.cos() * half_dlambda.sin().powi(2);
    // Rounding can push `a` a hair past 1 for antipodal points.
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn same_point_is_zero() {
        assert_eq!(haversine_km(48.8566, 2.3522, 48.8566, 2.3522), 0.0);
    }

    #[test]
    fn exact_fractions_of_the_equator() {
        let quarter = PI * EARTH_RADIUS_KM / 2.0;
        assert!(close(haversine_km(0.0, 0.0, 0.0, 90.0), quarter, 1e-9));
        assert!(close(haversine_km(0.0, 0.0, 90.0, 0.0), quarter, 1e-9));
        assert!(close(
            haversine_km(0.0, 0.0, 0.0, 180.0),
            2.0 * quarter,
            1e-9
        ));
        // Near antipodes asin is ill-conditioned: ~0.1 m of rounding.
        assert!(close(
            haversine_km(10.0, 20.0, -10.0, -160.0),
            2.0 * quarter,
            1e-3
        ));
    }

    #[test]
    fn london_to_paris() {
        let d = haversine_km(51.5074, -0.1278, 48.8566, 2.3522);
        assert!(close(d, 343.56, 0.05), "{d}");
        assert_eq!(d, haversine_km(48.8566, 2.3522, 51.5074, -0.1278));
    }

    #[test]
    fn longitude_wraps() {
        let a = haversine_km(0.0, 179.0, 0.0, -179.0);
        assert!(close(a, 2.0 * PI * EARTH_RADIUS_KM / 180.0, 1e-9), "{a}");
    }
}
